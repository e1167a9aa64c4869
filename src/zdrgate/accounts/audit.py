"""The admin audit log: append-only entries of who changed what, and when.

An entry names its actor and target by id (``account:<id>``, ``key:<id>``,
``team:<id>``, ``cli``, ``master``) and carries a small JSON object of metadata (a
role, a limit, a model id): never an email, a name, a secret or any content. It is
written in the same transaction as the change it records::

    with store.begin() as conn:
        revoke_key(conn, key_id)
        record(conn, actor, "keys.revoke", f"key:{key_id}")

Nothing updates or deletes entries, except erasure (``accounts.gdpr``), which replaces
a deleted person's ids in them with a tombstone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.accounts_store import iso, now

Scalar = str | int | float | bool | None
Details = dict[str, Scalar | list[str]]


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
        }


def record(
    conn: sa.Connection, actor: str, action: str, target: str | None, details: Details | None = None
) -> None:
    conn.execute(
        schema.admin_audit.insert().values(
            at=now(),
            actor=actor,
            action=action,
            target=target,
            details=orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode(),
        )
    )


def entries(
    conn: sa.Connection,
    *,
    about: list[str] | None = None,
    since: dt.datetime | None = None,
    limit: int = 1000,
) -> list[Entry]:
    """Newest first. ``about``: only entries whose actor or target is one of these."""
    table = schema.admin_audit
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if about is not None:
        query = query.where(sa.or_(table.c.actor.in_(about), table.c.target.in_(about)))
    if since is not None:
        query = query.where(table.c.at >= since)
    return [
        Entry(r.id, r.at, r.actor, r.action, r.target, orjson.loads(r.details))
        for r in conn.execute(query)
    ]


def pseudonymise(conn: sa.Connection, names: list[str], tombstone: str) -> None:
    """Replace these actor/target names (and mentions in details) by a tombstone."""
    table = schema.admin_audit
    for name in names:
        conn.execute(table.update().where(table.c.actor == name).values(actor=tombstone))
        conn.execute(table.update().where(table.c.target == name).values(target=tombstone))
        bare = name.split(":", 1)[-1]
        mentions = conn.execute(
            sa.select(table.c.id, table.c.details).where(table.c.details.contains(bare))
        ).all()
        for row in mentions:
            conn.execute(
                table.update()
                .where(table.c.id == row.id)
                .values(details=row.details.replace(bare, tombstone))
            )
