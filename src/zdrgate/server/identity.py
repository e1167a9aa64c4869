"""Who is calling, from the request's headers alone (the body is not read yet).

Usage (the front app does this for every ``/v1`` request)::

    principal = await identify(state, scope)     # 401, 429 or 503 as a GatewayError
    scope[PRINCIPAL] = principal                  # routes read it with principal_of()

The key may come as ``Authorization: Bearer`` or as ``x-api-key`` (what the
Anthropic SDK sends); ``x-api-key`` wins when both are present. Without either, the
web app's session cookie (``zdr_session``) is accepted, with its CSRF token on every
request that is not a GET, HEAD or OPTIONS.
"""

from __future__ import annotations

from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from zdrgate.accounts.keys import Principal
from zdrgate.accounts.sessions import COOKIE, SignedIn
from zdrgate.errors import AuthenticationFailed, PermissionDenied
from zdrgate.protocols import SPECS
from zdrgate.server.state import AppState

PRINCIPAL = "zdrgate.principal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_V1_PATHS = frozenset({"/v1/receipts/verify"})
"""Routes under /v1 that anyone may call: a receipt is verifiable by whoever holds it."""
ADMITTED = frozenset(
    {
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/images/generations"),
        ("POST", "/v1/embeddings"),
        *(("POST", spec.inbound.path) for spec in SPECS.values() if spec.inbound is not None),
    }
)
"""The model-serving routes: the limiter admits each request before any upstream call,
and with Redis that one round trip also reads the revocation epoch, so these are
identified under the last epoch seen and rechecked at admission if it moved
(``accounts.epoch``). Every other route reads the epoch when it identifies."""


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
    fresh = not admission_reads_epoch(state, scope)
    key = header(scope, b"x-api-key")
    if key is not None:
        return await state.auth.key(key.strip(), client, fresh)
    authorization = header(scope, b"authorization")
    if authorization is None and session_token(scope) is not None:
        return (await signed_in_by_cookie(state, scope, fresh)).principal
    return await state.auth.authenticate(authorization, client, fresh)


def admission_reads_epoch(state: AppState, scope: Scope) -> bool:
    """Whether the request's admission will read the revocation epoch (see ADMITTED)."""
    carries = state.gateway.limiter.counters.carries_epoch
    return carries and (scope["method"], scope["path"]) in ADMITTED


def session_token(scope: Scope) -> str | None:
    """The ``zdr_session`` cookie's value, if the request has one."""
    raw = header(scope, b"cookie")
    return cookie_parser(raw).get(COOKIE) or None if raw else None


async def signed_in_by_cookie(state: AppState, scope: Scope, fresh: bool = True) -> SignedIn:
    """The session of the request's cookie (401 otherwise); a state-changing request
    must repeat the session's CSRF token in ``X-CSRF-Token`` (403 otherwise)."""
    token = session_token(scope)
    if token is None:
        raise AuthenticationFailed("Not signed in.", code="not_signed_in")
    signed_in = await state.sessions.resolve(token, client_address(scope), fresh)
    if scope["method"] not in SAFE_METHODS:
        signed_in.check_csrf(header(scope, b"x-csrf-token"))
    return signed_in


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
