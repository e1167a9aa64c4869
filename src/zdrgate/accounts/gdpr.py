"""GDPR: everything held about an account as one JSON document, and erasure.

Erasure ("cancel anytime") in one transaction: the account's keys and sessions stop,
its personal data (email, name, password hash, passkeys, invites, memberships) is
deleted, and the usage rows the operator keeps for accounting lose every link to the
person: their account id and key ids become one random tombstone. Audit entries
naming the account or its keys name the tombstone instead. Afterwards no table holds
the account's id, email or name.

Usage::

    with store.begin() as conn:
        document = export_account(conn, account_id)
    with store.begin() as conn:
        tombstone = erase_account(conn, account_id)
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from zdrgate.accounts import audit, schema
from zdrgate.accounts.accounts_store import (
    get_account,
    iso,
    limit_values,
    now,
    teams_of,
)
from zdrgate.accounts.keys_store import list_keys
from zdrgate.accounts.sign_in_store import invites_of, passkeys_of, sessions_of
from zdrgate.accounts.usage_report import UsageFilter, usage_rows
from zdrgate.errors import NotFound

EXPORT_FORMAT = "zdrgate.account-export.v1"


def export_account(conn: sa.Connection, account_id: str) -> dict[str, Any]:
    """The whole of what is stored about an account. No hash of any secret."""
    account = get_account(conn, account_id)
    if account is None:
        raise NotFound("No such account.", code="account_not_found")
    keys = list_keys(conn, account_id)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": iso(now()),
        "account": {
            "id": account.id,
            "email": account.email,
            "display_name": account.display_name,
            "role": account.role,
            "created_at": iso(account.created_at),
            "has_password": account.password_hash is not None,
            **limit_values(account.limits),
        },
        "teams": [{"id": t.id, "name": t.name} for t in teams_of(conn, account_id)],
        "keys": [k.metadata() for k in keys],
        "passkeys": [
            {"created_at": iso(p.created_at), "last_used_at": iso(p.last_used_at)}
            for p in passkeys_of(conn, account_id)
        ],
        "sessions": [
            {
                "created_at": iso(s.created_at),
                "expires_at": iso(s.expires_at),
                "revoked_at": iso(s.revoked_at),
            }
            for s in sessions_of(conn, account_id)
        ],
        "invites": [
            {
                "email": i.email,
                "role": i.role,
                "team_id": i.team_id,
                "created_at": iso(i.created_at),
                "expires_at": iso(i.expires_at),
                "used_at": iso(i.used_at),
            }
            for i in invites_of(conn, account_id, account.email)
        ],
        "usage": _usage(conn, account_id, [k.key_id for k in keys]),
        "audit": [e.view() for e in audit.entries(conn, about=_names(account_id, keys))],
    }


def erase_account(conn: sa.Connection, account_id: str) -> str:
    """Erase an account (see the module's docstring); returns the tombstone."""
    account = get_account(conn, account_id)
    if account is None:
        raise NotFound("No such account.", code="account_not_found")
    key_ids = [k.key_id for k in list_keys(conn, account_id)]
    gone = tombstone()
    usage = schema.usage
    conn.execute(
        usage.update()
        .where(_usage_of(account_id, key_ids))
        .values(account_id=gone, key_id=gone)
    )
    by_account = (
        (schema.team_memberships, schema.team_memberships.c.account_id),
        (schema.sessions, schema.sessions.c.account_id),
        (schema.passkey_credentials, schema.passkey_credentials.c.account_id),
        (schema.api_keys, schema.api_keys.c.account_id),
    )
    for table, column in by_account:
        conn.execute(table.delete().where(column == account_id))
    if key_ids:  # web sessions opened with the account's keys
        conn.execute(schema.sessions.delete().where(schema.sessions.c.key_id.in_(key_ids)))
    invites = schema.invites
    conn.execute(
        invites.delete().where(
            sa.or_(invites.c.account_id == account_id, invites.c.email == account.email)
        )
    )
    conn.execute(schema.accounts.delete().where(schema.accounts.c.id == account_id))
    names = [f"account:{account_id}", *(f"key:{k}" for k in key_ids)]
    audit.pseudonymise(conn, names, gone)
    return gone


def unlink_erased(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Usage rows of requests that were in flight while their account was erased reach
    the database after the erasure: they get a tombstone instead of the erased ids.
    One indexed query per batch."""
    owners = {r["account_id"] for r in rows if r["account_id"] is not None}
    if not owners:
        return list(rows)
    table = schema.accounts
    live = set(conn.execute(sa.select(table.c.id).where(table.c.id.in_(owners))).scalars())
    gone = {owner: tombstone() for owner in owners - live}
    return [
        {**r, "account_id": gone[r["account_id"]], "key_id": gone[r["account_id"]]}
        if r["account_id"] in gone
        else r
        for r in rows
    ]


def tombstone() -> str:
    return f"gone-{secrets.token_hex(8)}"


def _names(account_id: str, keys: list[Any]) -> list[str]:
    return [f"account:{account_id}", *(f"key:{k.key_id}" for k in keys)]


def _usage_of(account_id: str, key_ids: list[str]) -> sa.ColumnElement[bool]:
    usage = schema.usage
    return sa.or_(usage.c.account_id == account_id, usage.c.key_id.in_(key_ids))


def _usage(conn: sa.Connection, account_id: str, key_ids: list[str]) -> list[dict[str, Any]]:
    rows = usage_rows(conn, UsageFilter(account_id=account_id))
    seen = {r["id"] for r in rows}
    for key_id in key_ids:  # rows written before the key had an owner
        rows += [r for r in usage_rows(conn, UsageFilter(key_id=key_id)) if r["id"] not in seen]
    return sorted(rows, key=lambda r: r["id"])
