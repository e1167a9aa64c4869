"""What a key, account or team has spent since a moment, from the usage rows.

Budget counters live in memory or Redis; this seeds one that does not exist yet, so a
restarted instance (or a Redis that lost its data) does not hand out a spent budget
again. Asked once per scope and window per process (the limiter caches its checks).

Usage::

    spent = UsageSpent(store)
    usd = spent("key", key_id, since)      # blocking: run it in a thread
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.store import Store

_COLUMNS = {
    "key": schema.usage.c.key_id,
    "account": schema.usage.c.account_id,
    "team": schema.usage.c.team_id,
}


class UsageSpent:
    def __init__(self, store: Store) -> None:
        self._store = store

    def __call__(self, scope: str, scope_id: str, since: dt.datetime) -> float:
        usage = schema.usage
        query = sa.select(sa.func.coalesce(sa.func.sum(usage.c.cost_usd), 0.0)).where(
            _COLUMNS[scope] == scope_id, usage.c.started_at >= since
        )
        with self._store.connect() as conn:
            return float(conn.execute(query).scalar_one())
