"""Self-service routes of the signed-in caller (a key or a session):
``GET /v1/usage`` (own usage by day and model), ``GET /v1/account/export`` (the GDPR
export) and ``DELETE /v1/account`` (erasure: the caller's keys stop at once)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from zdrgate.accounts import gdpr
from zdrgate.accounts.admin import Admin, actor_of
from zdrgate.accounts.keys import Principal
from zdrgate.accounts.usage_report import UsageFilter, usage_by_day
from zdrgate.errors import PermissionDenied
from zdrgate.server.admin_routes import parse_day
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import authenticate, state_of


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


def _own_account(principal: Principal) -> str:
    if principal.account_id is None:
        raise PermissionDenied(
            "This key belongs to no account (an operator key): there is no account to "
            "export or delete."
        )
    return principal.account_id


ROUTES = [
    Route("/v1/usage", own_usage, methods=["GET"]),
    Route("/v1/account/export", export_own, methods=["GET"]),
    Route("/v1/account", delete_own, methods=["DELETE"]),
]
