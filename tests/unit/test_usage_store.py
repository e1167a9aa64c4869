"""Usage rows written at the driver level read back exactly as Core's insert would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from zdrgate.accounts import schema
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import UsageEvent, _row

EVENT = UsageEvent(
    key_id="k1", started_at=1_790_000_000.123456, route="chat.completions", model="a/b",
    endpoint="p/a/b", status=200, error_kind=None, stream=True, attempts=2,
    prompt_tokens=11, completion_tokens=7, cost_usd=0.000123, latency_ms=12.5,
)


def same_as_core(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(schema.usage.insert(), [_row(EVENT)])
    store.insert_usage([_row(EVENT)])
    core, raw = store.usage_rows()
    core.pop("id")
    raw.pop("id")
    return core, raw


def test_sqlite_rows_match_core(tmp_path: Path) -> None:
    core, raw = same_as_core(Store(f"sqlite:///{tmp_path}/u.db"))
    assert raw == core
    assert raw["stream"] is True and raw["error_kind"] is None and raw["prompt_tokens"] == 11
    started = raw["started_at"].replace(tzinfo=raw["started_at"].tzinfo or dt.UTC)
    assert started == dt.datetime.fromtimestamp(EVENT.started_at, dt.UTC)
