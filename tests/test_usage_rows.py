"""Usage rows hold no client-chosen strings, and one bad row loses no batch (finding 13).

Runs on SQLite and on the real PostgreSQL (which refuses NUL bytes in text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from databases import DATABASES, database_url
from fake_openai import FakeOpenAI
from unit.test_usage_store import EVENT
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import UsageRecorder


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def rows_of(gw: RunningGateway, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    rows = gw.state.store.usage_rows()
    while len(rows) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = gw.state.store.usage_rows()
    return rows


def test_unknown_model_with_a_known_fallback_is_stored_as_a_catalog_id(
    db_url: str, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("fail500", "test/broken")])},
        extra={"storage": {"database_url": db_url}},
    )
    chosen = "attacker/\x00'); drop table usage; --"
    body = {
        "model": chosen,
        "models": ["test/broken"],
        "messages": [{"role": "user", "content": "x"}],
    }
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 502  # the fallback's only endpoint failed
    (row,) = rows_of(gw, 1)
    assert row["model"] == "unknown"
    assert "attacker" not in repr(row)


def test_a_known_model_keeps_its_id_when_it_fails(
    db_url: str, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("fail500", "test/broken")])},
        extra={"storage": {"database_url": db_url}},
    )
    body = {"model": "test/broken", "messages": [{"role": "user", "content": "x"}]}
    assert httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth()).status_code
    (row,) = rows_of(gw, 1)
    assert row["model"] == "test/broken"


def test_one_bad_row_never_loses_the_others(db_url: str) -> None:
    store = Store(db_url)
    store.migrate()
    recorder = UsageRecorder(store)
    tenants = [dataclasses.replace(EVENT, key_id=f"tenant{i}") for i in range(5)]
    nul = dataclasses.replace(EVENT, key_id="nul", error_kind="bad\x00code")  # PostgreSQL: no
    too_long = dataclasses.replace(EVENT, key_id="long", error_kind="x" * 500)  # varchar(64)
    refused = dataclasses.replace(EVENT, key_id=None)  # type: ignore[arg-type] # NOT NULL
    for event in (tenants[0], nul, tenants[1], refused, too_long, *tenants[2:]):
        recorder.record(event)
    asyncio.run(recorder.flush())
    written = {row["key_id"]: row for row in store.usage_rows()}
    assert set(written) == {f"tenant{i}" for i in range(5)} | {"nul", "long"}
    # The bad rows are kept too, made storable: usage is never silently unmetered.
    assert written["nul"]["error_kind"] == "badcode"
    assert written["long"]["error_kind"] == "x" * 64
    store.close()
