"""Usage by day and model, summed in the database: requests, tokens, images, cost,
errors. Nothing finer (no per-request lengths that could fingerprint content).

Usage::

    with store.connect() as conn:
        rows = usage_by_day(conn, UsageFilter(account_id=account.id, since=date(2026, 11, 1)))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.accounts_store import iso


@dataclass(frozen=True, slots=True)
class UsageFilter:
    account_id: str | None = None
    key_id: str | None = None
    since: dt.date | None = None  # inclusive, a UTC day


def usage_by_day(conn: sa.Connection, where: UsageFilter) -> list[dict[str, Any]]:
    table = schema.usage
    day = _utc_day(conn, table.c.started_at).label("day")
    errors = sa.func.sum(sa.case((table.c.status >= 400, 1), else_=0))
    query = (
        sa.select(
            day,
            table.c.model,
            sa.func.count().label("requests"),
            sa.func.sum(table.c.prompt_tokens).label("prompt_tokens"),
            sa.func.sum(table.c.completion_tokens).label("completion_tokens"),
            sa.func.sum(table.c.images).label("images"),
            sa.func.sum(table.c.cost_usd).label("cost_usd"),
            errors.label("errors"),
        )
        .where(*_conditions(where))
        .group_by(day, table.c.model)
        .order_by(day, table.c.model)
    )
    return [
        {
            "day": str(r.day),
            "model": r.model,
            "requests": int(r.requests),
            "prompt_tokens": int(r.prompt_tokens or 0),
            "completion_tokens": int(r.completion_tokens or 0),
            "images": int(r.images or 0),
            "cost_usd": round(float(r.cost_usd or 0.0), 8),
            "errors": int(r.errors or 0),
        }
        for r in conn.execute(query)
    ]


def usage_rows(conn: sa.Connection, where: UsageFilter) -> list[dict[str, Any]]:
    """Each row's metadata, oldest first (for an export)."""
    table = schema.usage
    query = sa.select(table).where(*_conditions(where)).order_by(table.c.id)
    rows = []
    for r in conn.execute(query):
        row = {str(name): value for name, value in r._mapping.items()}  # not quoted_name
        row["started_at"] = iso(row["started_at"])
        rows.append(row)
    return rows


def _conditions(where: UsageFilter) -> list[sa.ColumnElement[bool]]:
    table = schema.usage
    found: list[sa.ColumnElement[bool]] = []
    if where.account_id is not None:
        found.append(table.c.account_id == where.account_id)
    if where.key_id is not None:
        found.append(table.c.key_id == where.key_id)
    if where.since is not None:
        start = dt.datetime.combine(where.since, dt.time(), dt.UTC)
        found.append(table.c.started_at >= start)
    return found


def _utc_day(conn: sa.Connection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        # date() of a timestamptz follows the session's time zone: pin it to UTC.
        return sa.func.date(sa.func.timezone("UTC", column))
    return sa.func.date(column)  # SQLite stores UTC text
