"""With ``storage.usage_flush_seconds = 0`` a response's last bytes wait for its usage
row: the moment a client has a whole response (a plain body, a stream's ``[DONE]``),
the row is committed, so a ``kill -9`` right then loses nothing the client was served
(tests/test_two_instances.py kills a real process). No polling here: the row must be
there at once. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from databases import DATABASES, database_url
from fake_openai import FakeOpenAI
from unit.test_usage_store import EVENT
from zdrgate.accounts import migrate
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import UsageRecorder, rows_first

pytestmark = pytest.mark.services
BODY = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(params=DATABASES)
def gw(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    upstream: FakeOpenAI,
    make_gateway: GatewayFactory,
) -> Iterator[RunningGateway]:
    with database_url(request.param, tmp_path) as url:
        storage = {"database_url": url, "usage_flush_seconds": 0}
        yield make_gateway(
            {"p": provider(upstream.base_url, [chat_model("ok"), chat_model("fail500", "t/bad")])},
            extra={"storage": storage},
        )


def test_a_plain_response_arrives_after_its_row_is_written(gw: RunningGateway) -> None:
    assert gw.state.gateway.usage.durable
    for done in range(1, 6):
        response = httpx.post(gw.v1 + "/chat/completions", json=BODY, headers=gw.auth())
        assert response.status_code == 200 and response.json()["choices"]
        assert len(gw.state.store.usage_rows()) == done


def test_a_streams_done_line_arrives_after_its_row_is_written(gw: RunningGateway) -> None:
    for done in range(1, 4):
        seen = b""
        with httpx.stream(
            "POST", gw.v1 + "/chat/completions", json={**BODY, "stream": True}, headers=gw.auth()
        ) as response:
            for chunk in response.iter_bytes():
                seen += chunk
                if b"data: [DONE]" in seen:
                    rows = gw.state.store.usage_rows()  # before reading another byte
                    break
        assert b": zdr-receipt=" in seen  # the receipt line went out with the end, too
        assert len(rows) == done
        assert rows[-1]["stream"] and rows[-1]["status"] == 200
        assert rows[-1]["completion_tokens"] > 0


def test_a_failed_request_is_answered_after_its_row_is_written(gw: RunningGateway) -> None:
    response = httpx.post(
        gw.v1 + "/chat/completions", json={**BODY, "model": "t/bad"}, headers=gw.auth()
    )
    assert response.status_code == 502
    (row,) = gw.state.store.usage_rows()
    assert row["status"] == 502


async def test_send_waits_for_the_rows_recorded_before_it(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/u.db")
    migrate.prepare(store.engine, migrate_on_start=True)
    recorder = UsageRecorder(store, flush_seconds=0)
    sent: list[object] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append((message["type"], len(store.usage_rows())))

    async def one_request() -> None:
        wrapped = rows_first(send)  # in the request's own task, as the front app does
        recorder.record(EVENT)  # not started: nothing will write it, so nothing waits
        await wrapped({"type": "http.response.start"})
        await recorder.start()
        recorder.record(EVENT)
        await wrapped({"type": "http.response.body"})

    await asyncio.wait_for(asyncio.create_task(one_request()), 10)
    await recorder.close()
    assert sent == [("http.response.start", 0), ("http.response.body", 2)]
    store.close()
