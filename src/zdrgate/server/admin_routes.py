"""The admin API under ``/v1/admin/``: accounts, teams, keys (with their limits and
budgets), usage and the audit log. Every route needs an admin principal (an admin key,
the master key or an admin's session; 403 otherwise); every change is written to the
audit log by :class:`~zdrgate.accounts.admin.Admin`. Database work runs in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from starlette.requests import Request
from starlette.routing import Route

from zdrgate.accounts import accounts_store as accounts
from zdrgate.accounts import audit, keys_store
from zdrgate.accounts.admin import Admin, account_view, actor_of, invite_link, team_view
from zdrgate.accounts.keys import Limits, Principal
from zdrgate.accounts.keys_store import KeySpec
from zdrgate.accounts.usage_report import UsageFilter, usage_by_day
from zdrgate.errors import InvalidRequest, PermissionDenied
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import authenticate, state_of
from zdrgate.wire.admin import (
    AccountCreate,
    AccountPatch,
    KeyCreate,
    KeyPatch,
    OwnKeyCreate,
    TeamCreate,
    TeamPatch,
)

T = TypeVar("T")


async def admin_of(request: Request) -> Admin:
    principal = await authenticate(request)
    require_admin(principal)
    return Admin(state_of(request).store, actor_of(principal))


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDenied("The admin API needs an admin key or an admin's session.")


async def query(admin: Admin, fn: Callable[[sa.Connection], T]) -> T:
    """``fn(connection)`` in a worker thread."""

    def run() -> T:
        with admin.store.connect() as conn:
            return fn(conn)

    return await asyncio.to_thread(run)


# Accounts


async def list_accounts(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    found = await query(admin, accounts.list_accounts)
    return JSONBytes({"object": "list", "data": [account_view(a) for a in found]})


async def create_account(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    body = parse_body(AccountCreate, await request.body())
    account, token = await asyncio.to_thread(
        lambda: admin.create_account(
            body.email, role=body.role, team=body.team, display_name=body.display_name
        )
    )
    base = state_of(request).settings.server.public_url or str(request.base_url)
    view = {"account": account_view(account), "invite_url": invite_link(base, token)}
    return JSONBytes(view, status_code=201)


async def get_account(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    ref = request.path_params["account_id"]
    return JSONBytes(await query(admin, lambda conn: _account_detail(conn, ref)))


def _account_detail(conn: sa.Connection, ref: str) -> dict[str, Any]:
    account = accounts.require_account(conn, ref)
    view = account_view(account, accounts.teams_of(conn, account.id))
    view["keys"] = [k.metadata() for k in keys_store.list_keys(conn, account.id)]
    return view


async def patch_account(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    changes = parse_body(AccountPatch, await request.body()).model_dump(exclude_unset=True)
    account_id = await _account_id(admin, request)
    account = await asyncio.to_thread(admin.update_account, account_id, changes)
    return JSONBytes(account_view(account))


async def delete_account(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    account_id = await _account_id(admin, request)
    await asyncio.to_thread(admin.delete_account, account_id)
    return JSONBytes({"id": account_id, "object": "account", "deleted": True})


async def revoke_sessions(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    account_id = await _account_id(admin, request)
    ended = await asyncio.to_thread(admin.revoke_sessions, account_id)
    return JSONBytes({"id": account_id, "object": "account", "sessions_revoked": ended})


async def export_account(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    account_id = await _account_id(admin, request)
    return JSONBytes(await asyncio.to_thread(admin.export_account, account_id))


async def _account_id(admin: Admin, request: Request) -> str:
    ref: str = request.path_params["account_id"]

    def find(conn: sa.Connection) -> accounts.Account:
        return accounts.require_account(conn, ref)

    return (await query(admin, find)).id


# Teams


async def list_teams(request: Request) -> JSONBytes:
    admin = await admin_of(request)

    def views(conn: sa.Connection) -> list[dict[str, Any]]:
        return [team_view(t, accounts.member_ids(conn, t.id)) for t in accounts.list_teams(conn)]

    return JSONBytes({"object": "list", "data": await query(admin, views)})


async def create_team(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    body = parse_body(TeamCreate, await request.body())
    limits = body.model_dump(exclude={"name"}, exclude_unset=True)

    def create() -> accounts.Team:
        team = admin.create_team(body.name)
        return admin.update_team(team.id, limits) if limits else team

    return JSONBytes(team_view(await asyncio.to_thread(create), []), status_code=201)


async def patch_team(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    changes = parse_body(TeamPatch, await request.body()).model_dump(exclude_unset=True)
    team_id = await _team_id(admin, request)
    return JSONBytes(team_view(await asyncio.to_thread(admin.update_team, team_id, changes)))


async def delete_team(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    team_id = await _team_id(admin, request)
    await asyncio.to_thread(admin.delete_team, team_id)
    return JSONBytes({"id": team_id, "object": "team", "deleted": True})


async def team_member(request: Request) -> JSONBytes:
    """PUT adds the account to the team, DELETE removes it."""
    admin = await admin_of(request)
    team_id = await _team_id(admin, request)
    account_id = await _account_id(admin, request)
    member = request.method == "PUT"
    changed = await asyncio.to_thread(lambda: admin.set_member(team_id, account_id, member=member))
    return JSONBytes(
        {"team_id": team_id, "account_id": account_id, "member": member, "changed": changed}
    )


async def _team_id(admin: Admin, request: Request) -> str:
    ref: str = request.path_params["team_id"]

    def find(conn: sa.Connection) -> accounts.Team:
        return accounts.require_team(conn, ref)

    return (await query(admin, find)).id


# Keys


async def list_keys(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    ref = request.query_params.get("account")

    def rows(conn: sa.Connection) -> list[dict[str, Any]]:
        owner = accounts.require_account(conn, ref).id if ref else None
        return [k.metadata() for k in keys_store.list_keys(conn, owner)]

    return JSONBytes({"object": "list", "data": await query(admin, rows)})


async def create_key(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    body = parse_body(KeyCreate, await request.body())
    check_models(request, body.models)

    def create() -> dict[str, Any]:
        with admin.store.connect() as conn:
            owner = accounts.require_account(conn, body.account).id if body.account else None
            team = accounts.require_team(conn, body.team).id if body.team else None
        key, row = admin.create_key(key_spec(body, owner, team, is_admin=body.is_admin))
        return {**row.metadata(), "key": key.plaintext}

    return JSONBytes(await asyncio.to_thread(create), status_code=201)


def key_spec(
    body: KeyCreate | OwnKeyCreate, owner: str | None, team: str | None, *, is_admin: bool
) -> KeySpec:
    return KeySpec(
        name=body.name,
        is_admin=is_admin,
        account_id=owner,
        team_id=team,
        expires_at=body.expires_at,
        region=body.region.lower() if body.region else None,
        models=frozenset(body.models) if body.models is not None else None,
        images_allowed=body.images_allowed,
        provider_prefs=body.provider.model_dump(exclude_unset=True) if body.provider else None,
        limits=Limits(body.rpm, body.tpm, body.budget_day_usd, body.budget_month_usd),
    )


async def get_key(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    key_id = request.path_params["key_id"]
    row = await query(admin, lambda conn: keys_store.require_key(conn, key_id))
    return JSONBytes(row.metadata())


async def patch_key(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    body = parse_body(KeyPatch, await request.body())
    check_models(request, body.models)
    changes = body.model_dump(exclude_unset=True)
    if "provider" in changes:
        changes["provider_prefs"] = changes.pop("provider")
    if changes.get("region"):
        changes["region"] = changes["region"].lower()
    key_id = request.path_params["key_id"]
    return JSONBytes((await asyncio.to_thread(admin.update_key, key_id, changes)).metadata())


async def rotate_key(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    key = await asyncio.to_thread(admin.rotate_key, request.path_params["key_id"])
    return JSONBytes({"id": key.key_id, "key": key.plaintext})


async def revoke_key(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    key_id = request.path_params["key_id"]
    revoked = await asyncio.to_thread(admin.revoke_key, key_id)
    return JSONBytes({"id": key_id, "revoked": True, "changed": revoked})


def check_models(request: Request, models: list[str] | None) -> None:
    catalog = state_of(request).gateway.catalog
    for model in models or ():
        if catalog.model(model) is None:
            raise InvalidRequest(
                f"The model '{model}' is not in this gateway's catalog.", param="models"
            )


# Usage and audit


async def usage(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    params = request.query_params
    since = parse_day(params.get("since"))

    def rows(conn: sa.Connection) -> list[dict[str, Any]]:
        ref = params.get("account")
        owner = accounts.require_account(conn, ref).id if ref else None
        return usage_by_day(conn, UsageFilter(owner, params.get("key"), since))

    return JSONBytes({"object": "list", "data": await query(admin, rows)})


async def audit_log(request: Request) -> JSONBytes:
    admin = await admin_of(request)
    params = request.query_params
    since = parse_day(params.get("since"))
    about = params.getlist("about") or None
    try:
        limit = min(int(params.get("limit", "1000")), 10_000)
    except ValueError:
        raise InvalidRequest("limit must be a number.", param="limit") from None
    start = dt.datetime.combine(since, dt.time(), dt.UTC) if since else None
    found = await query(
        admin, lambda conn: audit.entries(conn, about=about, since=start, limit=limit)
    )
    return JSONBytes({"object": "list", "data": [e.view() for e in found]})


def parse_day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest("since must be a day, YYYY-MM-DD.", param="since") from None


ROUTES = [
    Route("/v1/admin/accounts", list_accounts, methods=["GET"]),
    Route("/v1/admin/accounts", create_account, methods=["POST"]),
    Route("/v1/admin/accounts/{account_id}", get_account, methods=["GET"]),
    Route("/v1/admin/accounts/{account_id}", patch_account, methods=["PATCH"]),
    Route("/v1/admin/accounts/{account_id}", delete_account, methods=["DELETE"]),
    Route("/v1/admin/accounts/{account_id}/export", export_account, methods=["GET"]),
    Route("/v1/admin/accounts/{account_id}/sessions/revoke", revoke_sessions, methods=["POST"]),
    Route("/v1/admin/teams", list_teams, methods=["GET"]),
    Route("/v1/admin/teams", create_team, methods=["POST"]),
    Route("/v1/admin/teams/{team_id}", patch_team, methods=["PATCH"]),
    Route("/v1/admin/teams/{team_id}", delete_team, methods=["DELETE"]),
    Route("/v1/admin/teams/{team_id}/members/{account_id}", team_member, methods=["PUT", "DELETE"]),
    Route("/v1/admin/keys", list_keys, methods=["GET"]),
    Route("/v1/admin/keys", create_key, methods=["POST"]),
    Route("/v1/admin/keys/{key_id}", get_key, methods=["GET"]),
    Route("/v1/admin/keys/{key_id}", patch_key, methods=["PATCH"]),
    Route("/v1/admin/keys/{key_id}/rotate", rotate_key, methods=["POST"]),
    Route("/v1/admin/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/v1/admin/usage", usage, methods=["GET"]),
    Route("/v1/admin/audit", audit_log, methods=["GET"]),
]
