"""Sign-in for the web app: ``/auth/login``, ``/auth/session``, ``/auth/logout``,
``/auth/signup`` (passkeys: ``server.passkey_routes``). JSON in and out, errors in the
OpenAI envelope; a session is an HttpOnly, SameSite=Strict cookie (``zdr_session``).

Contract (docs/accounts.md, "Sign-in and sessions")::

    POST /auth/login   {"email", "password"} | {"api_key"}
        -> 200 {"account": {"id", "email", "role"} | null, "admin", "csrf_token", "expires_at"}
           + Set-Cookie
    GET  /auth/session -> the same, or 401
    POST /auth/logout  -> 204 (cookie cleared)
    POST /auth/signup  {"email", "password", "invite"?} -> 201, as login

Every failed sign-in counts against the client address (``accounts.failures``); a
blocked address gets 429 with ``Retry-After`` before any password is checked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from zdrgate.accounts import accounts_store, audit, sign_in_store
from zdrgate.accounts.accounts_store import Account
from zdrgate.accounts.auth import too_many_failures
from zdrgate.accounts.passwords import check_new_password, hash_password, verify_password
from zdrgate.accounts.sessions import COOKIE, SignedIn
from zdrgate.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from zdrgate.server.identity import client_address, session_token
from zdrgate.server.parsing import parse_body
from zdrgate.server.routes import state_of
from zdrgate.server.state import AppState
from zdrgate.wire.auth import LoginRequest, SignupRequest

_WRONG_PASSWORD = "Incorrect email or password."  # noqa: S105 - a message


def reply(content: Any, status: int = 200, cookie: str | None = None) -> Response:
    """JSON (or, for None, an empty 204) that no cache keeps, with a cookie to set."""
    body = b"" if content is None else orjson.dumps(content)
    media_type = None if content is None else "application/json"
    response = Response(body, status, {"cache-control": "no-store"}, media_type)
    if cookie is not None:
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
    return response


def cookie(request: Request, value: str, max_age: int) -> str:
    """``zdr_session``: HttpOnly, SameSite=Strict, Path=/; Secure over https (the
    request's own scheme, or a public URL that says https behind a TLS proxy)."""
    public = state_of(request).settings.server.public_url
    secure = request.url.scheme == "https" or public.startswith("https://")
    parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def signed_in_reply(
    request: Request, token: str, signed_in: SignedIn, status: int = 200
) -> Response:
    max_age = int(state_of(request).sessions.lifetime.total_seconds())
    return reply(signed_in.view(), status, cookie(request, token, max_age))


async def refuse_if_blocked(state: AppState, client: str) -> None:
    retry_after = await state.auth.failures.blocked(client)
    if retry_after is not None:
        raise too_many_failures(retry_after)


async def login(request: Request) -> Response:
    state = state_of(request)
    client = client_address(request.scope)
    await refuse_if_blocked(state, client)
    body = parse_body(LoginRequest, await request.body())
    if body.api_key is not None and body.email is None and body.password is None:
        principal = await state.auth.key(body.api_key.strip(), client)
        token, signed_in = await state.sessions.open(key=principal)
        return signed_in_reply(request, token, signed_in)
    if body.email is None or body.password is None or body.api_key is not None:
        raise InvalidRequest(
            'Send {"email", "password"} or {"api_key"}.', code="invalid_login_request"
        )
    account = await asyncio.to_thread(_account_by_email, state, body.email)
    stored = account.password_hash if account is not None else None
    if account is None or not await verify_password(stored, body.password):
        await state.auth.failures.hit(client)
        raise AuthenticationFailed(_WRONG_PASSWORD, code="invalid_credentials")
    token, signed_in = await state.sessions.open(account=account)
    return signed_in_reply(request, token, signed_in)


async def session(request: Request) -> Response:
    state = state_of(request)
    token = session_token(request.scope)
    if token is None:
        raise AuthenticationFailed("Not signed in.", code="not_signed_in")
    signed_in = await state.sessions.resolve(token, client_address(request.scope))
    return reply(signed_in.view())


async def logout(request: Request) -> Response:
    state = state_of(request)
    token = session_token(request.scope)
    if token is not None:
        try:
            signed_in = await state.sessions.resolve(token, client_address(request.scope))
        except AuthenticationFailed:
            signed_in = None  # already over: just clear the cookie
        if signed_in is not None:
            signed_in.check_csrf(request.headers.get("x-csrf-token"))
            await state.sessions.end(token)
    return reply(None, 204, cookie(request, "", 0))


async def signup(request: Request) -> Response:
    state = state_of(request)
    client = client_address(request.scope)
    await refuse_if_blocked(state, client)
    body = parse_body(SignupRequest, await request.body())
    mode = state.settings.accounts.signup
    if mode == "closed" or (mode == "invite" and body.invite is None):
        await state.auth.failures.hit(client)
        raise PermissionDenied(
            "Sign-up on this gateway needs an invite link from an admin."
            if mode == "invite"
            else "Sign-up is closed on this gateway.",
            code="signup_closed" if mode == "closed" else "invite_required",
        )
    check_new_password(body.password)
    password_hash = await hash_password(body.password)
    try:
        account = await asyncio.to_thread(_sign_up, state, body, password_hash)
    except InvalidRequest:
        await state.auth.failures.hit(client)  # a wrong or used invite counts as a failure
        raise
    state.store.credentials_changed()
    token, signed_in = await state.sessions.open(account=account)
    return signed_in_reply(request, token, signed_in, status=201)


def _account_by_email(state: AppState, email: str) -> Account | None:
    with state.store.connect() as conn:
        return accounts_store.account_by_email(conn, email)


def _sign_up(state: AppState, body: SignupRequest, password_hash: str) -> Account:
    """The account (made, or the admin's, for an invite) with its password; one
    transaction with the invite's use and the audit entry."""
    email = accounts_store.normal_email(body.email)
    with state.store.begin() as conn:
        if body.invite is None:
            account = accounts_store.create_account(conn, email, role="member")
        else:
            account = _redeem(conn, body.invite, email)
        account = accounts_store.update_account(conn, account.id, {"password_hash": password_hash})
        target = f"account:{account.id}"
        audit.record(conn, target, "accounts.signup", target, {"invited": body.invite is not None})
    return account


def _redeem(conn: Any, token: str, email: str) -> Account:
    invite = sign_in_store.find_invite(conn, token)
    if invite is None or invite.email != email or not sign_in_store.use_invite(
        conn, invite.token_hash
    ):
        raise InvalidRequest(
            "This invite link is unknown, used, expired or for another email.",
            param="invite",
            code="invalid_invite",
        )
    if invite.account_id is not None:
        account = accounts_store.get_account(conn, invite.account_id)
        if account is None:
            raise InvalidRequest("The invited account no longer exists.", code="invalid_invite")
        return account
    account = accounts_store.create_account(conn, email, role=invite.role)
    if invite.team_id is not None:
        accounts_store.add_member(conn, invite.team_id, account.id)
    return account

