"""Who is calling, from the request's headers alone (the body is not read yet).

Usage (the front app does this for every ``/v1`` request)::

    principal = await identify(state, scope)     # 401, 429 or 503 as a GatewayError
    scope[PRINCIPAL] = principal                  # routes read it with principal_of()

The key may come as ``Authorization: Bearer`` or as ``x-api-key`` (what the
Anthropic SDK sends); ``x-api-key`` wins when both are present.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

from zdrgate.accounts.keys import Principal
from zdrgate.errors import AuthenticationFailed, PermissionDenied
from zdrgate.server.state import AppState

PRINCIPAL = "zdrgate.principal"
PUBLIC_V1_PATHS = frozenset({"/v1/receipts/verify"})
"""Routes under /v1 that anyone may call: a receipt is verifiable by whoever holds it."""


def needs_identity(path: str) -> bool:
    """Every /v1 path (unknown ones too) but the public ones."""
    return (path.startswith("/v1/") or path == "/v1") and path not in PUBLIC_V1_PATHS


def header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


async def identify(state: AppState, scope: Scope) -> Principal:
    client = client_address(scope)
    key = header(scope, b"x-api-key")
    if key is not None:
        return await state.auth.key(key.strip(), client)
    return await state.auth.authenticate(header(scope, b"authorization"), client)


def require_admin(principal: Principal) -> Principal:
    """The principal if it may act as an admin (an admin key, the master key, or an
    admin's session), else a 403. Every admin route calls this first."""
    if not principal.is_admin:
        raise PermissionDenied("This action needs an admin key or an admin's session.")
    return principal


def principal_of(request: Request) -> Principal:
    """The caller the front app identified; never reached without one."""
    principal = request.scope.get(PRINCIPAL)
    if not isinstance(principal, Principal):
        raise AuthenticationFailed("The request was not authenticated.")
    return principal
