"""Passkey routes of the web app (WebAuthn, see ``accounts.passkeys``)::

    POST /auth/passkey/register/options   signed in (cookie + X-CSRF-Token) -> creation options
    POST /auth/passkey/register           the browser's credential -> 201 {"id"}
    POST /auth/passkey/login/options      -> request options
    POST /auth/passkey/login              the browser's assertion -> 200, as /auth/login

The relying party is ``accounts.passkey_rp_id`` / ``accounts.passkey_origin``, by
default the host and origin the request was made to.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from zdrgate.accounts.passkeys import RelyingParty
from zdrgate.accounts.sessions import SignedIn
from zdrgate.errors import InvalidRequest, PermissionDenied
from zdrgate.server.auth_routes import refuse_if_blocked, reply, signed_in_reply
from zdrgate.server.identity import client_address, signed_in_by_cookie
from zdrgate.server.routes import state_of

MAX_CREDENTIAL_BYTES = 64 * 1024


def relying_party(request: Request) -> RelyingParty:
    settings = state_of(request).settings.accounts
    host = request.url.hostname or "localhost"
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return RelyingParty(settings.passkey_rp_id or host, settings.passkey_origin or origin)


async def _account_session(request: Request) -> SignedIn:
    signed_in = await signed_in_by_cookie(state_of(request), request.scope)
    if signed_in.account is None:
        raise PermissionDenied(
            "Passkeys belong to accounts; this session was opened with an API key.",
            code="account_required",
        )
    return signed_in


async def _credential(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_CREDENTIAL_BYTES:
        raise InvalidRequest("The passkey credential is too large.", code="invalid_passkey")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("response"), dict):
        raise InvalidRequest("Send the credential as the browser returned it (JSON).",
                             code="invalid_passkey")
    return value


async def passkey_register_options(request: Request) -> Response:
    signed_in = await _account_session(request)
    assert signed_in.account is not None
    options = await state_of(request).passkeys.register_options(
        signed_in.account, relying_party(request)
    )
    return reply(options)


async def passkey_register(request: Request) -> Response:
    signed_in = await _account_session(request)
    assert signed_in.account is not None
    credential = await _credential(request)
    passkeys = state_of(request).passkeys
    credential_id = await passkeys.register(signed_in.account, credential, relying_party(request))
    return reply({"id": credential_id}, 201)


async def passkey_login_options(request: Request) -> Response:
    state = state_of(request)
    await refuse_if_blocked(state, client_address(request.scope))
    return reply(await state.passkeys.login_options(relying_party(request)))


async def passkey_login(request: Request) -> Response:
    state = state_of(request)
    client = client_address(request.scope)
    await refuse_if_blocked(state, client)
    credential = await _credential(request)
    try:
        account = await state.passkeys.login(credential, relying_party(request))
    except Exception:
        await state.auth.failures.hit(client)
        raise
    token, signed_in = await state.sessions.open(account=account)
    return signed_in_reply(request, token, signed_in)
