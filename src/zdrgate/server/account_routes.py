"""Self-service routes of the signed-in caller (a key or a session):
``GET /v1/usage`` (own usage by day and model), ``GET /v1/account`` (own profile),
``GET|POST /v1/account/keys`` and ``POST /v1/account/keys/{id}/rotate|revoke`` (own
keys), ``GET /v1/account/export`` (the GDPR export) and ``DELETE /v1/account``
(erasure: the caller's keys stop at once)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from zdrgate.accounts import accounts_store as accounts
from zdrgate.accounts import gdpr, keys_store
from zdrgate.accounts.accounts_store import iso
from zdrgate.accounts.admin import Admin, account_view, actor_of
from zdrgate.accounts.keys import Principal
from zdrgate.accounts.sign_in_store import passkeys_of
from zdrgate.accounts.usage_report import UsageFilter, usage_by_day
from zdrgate.errors import NotFound, PermissionDenied
from zdrgate.server.admin_routes import check_models, key_spec, parse_day
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import authenticate, state_of
from zdrgate.wire.admin import OwnKeyCreate


async def own_usage(request: Request) -> JSONBytes:
    """An account's usage (all its keys); a key without an account: that key's."""
    principal = await authenticate(request)
    since = parse_day(request.query_params.get("since"))
    if principal.account_id is not None:
        where = UsageFilter(account_id=principal.account_id, since=since)
    else:
        where = UsageFilter(key_id=principal.key_id, since=since)
    store = state_of(request).store

    def rows() -> list[dict[str, Any]]:
        with store.connect() as conn:
            return usage_by_day(conn, where)

    return JSONBytes({"object": "list", "data": await asyncio.to_thread(rows)})


async def export_own(request: Request) -> JSONBytes:
    principal = await authenticate(request)
    account_id = _own_account(principal)
    store = state_of(request).store

    def export() -> dict[str, Any]:
        with store.begin() as conn:
            return gdpr.export_account(conn, account_id)

    return JSONBytes(await asyncio.to_thread(export))


async def delete_own(request: Request) -> JSONBytes:
    principal = await authenticate(request)
    account_id = _own_account(principal)
    admin = Admin(state_of(request).store, actor_of(principal))
    await asyncio.to_thread(admin.delete_account, account_id)
    return JSONBytes({"object": "account", "deleted": True})


async def own_profile(request: Request) -> JSONBytes:
    principal = await authenticate(request)
    account_id = _own_account(principal)
    store = state_of(request).store

    def view() -> dict[str, Any]:
        with store.connect() as conn:
            account = accounts.require_account(conn, account_id)
            view = account_view(account, accounts.teams_of(conn, account_id))
            view["passkeys"] = [  # dates only: the account page lists them
                {"created_at": iso(p.created_at), "last_used_at": iso(p.last_used_at)}
                for p in passkeys_of(conn, account_id)
            ]
            return view

    return JSONBytes(await asyncio.to_thread(view))


async def own_keys(request: Request) -> JSONBytes:
    principal = await authenticate(request)
    account_id = _own_account(principal)
    store = state_of(request).store

    def rows() -> list[dict[str, Any]]:
        with store.connect() as conn:
            return [k.metadata() for k in keys_store.list_keys(conn, account_id)]

    return JSONBytes({"object": "list", "data": await asyncio.to_thread(rows)})


async def create_own_key(request: Request) -> JSONBytes:
    principal = await authenticate(request)
    account_id = _own_account(principal)
    body = parse_body(OwnKeyCreate, await request.body())
    check_models(request, body.models)
    admin = Admin(state_of(request).store, actor_of(principal))

    def create() -> dict[str, Any]:
        with admin.store.connect() as conn:
            team = accounts.require_team(conn, body.team).id if body.team else None
        spec = key_spec(body, account_id, team, is_admin=False)
        key, row = admin.create_key(spec)
        return {**row.metadata(), "key": key.plaintext}

    return JSONBytes(await asyncio.to_thread(create), status_code=201)


async def own_key_action(request: Request) -> JSONBytes:
    """``POST /v1/account/keys/{key_id}/rotate`` or ``.../revoke`` of one's own key."""
    principal = await authenticate(request)
    account_id = _own_account(principal)
    key_id: str = request.path_params["key_id"]
    admin = Admin(state_of(request).store, actor_of(principal))

    def act() -> dict[str, Any]:
        with admin.store.connect() as conn:
            row = keys_store.get_key(conn, key_id)
        if row is None or row.account_id != account_id:
            raise NotFound("No such key.", code="key_not_found")
        if request.url.path.endswith("/rotate"):
            return {"id": key_id, "key": admin.rotate_key(key_id).plaintext}
        return {"id": key_id, "revoked": True, "changed": admin.revoke_key(key_id)}

    return JSONBytes(await asyncio.to_thread(act))


def _own_account(principal: Principal) -> str:
    if principal.account_id is None:
        raise PermissionDenied(
            "This key belongs to no account (an operator key): there is no account to "
            "export or delete."
        )
    return principal.account_id


ROUTES = [
    Route("/v1/usage", own_usage, methods=["GET"]),
    Route("/v1/account", own_profile, methods=["GET"]),
    Route("/v1/account/keys", own_keys, methods=["GET"]),
    Route("/v1/account/keys", create_own_key, methods=["POST"]),
    Route("/v1/account/keys/{key_id}/rotate", own_key_action, methods=["POST"]),
    Route("/v1/account/keys/{key_id}/revoke", own_key_action, methods=["POST"]),
    Route("/v1/account/export", export_own, methods=["GET"]),
    Route("/v1/account", delete_own, methods=["DELETE"]),
]
