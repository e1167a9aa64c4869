"""The store on a real PostgreSQL (127.0.0.1:5432, database `test`), as in the scaled mode.

Under CI=true these tests must run: an unreachable server fails them instead of
skipping them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest

from auth_helpers import authenticator
from conftest import GatewayFactory, chat_model, provider
from databases import postgres_schema_url
from fake_openai import FakeOpenAI
from unit.test_usage_store import EVENT, same_as_core
from zdrgate.accounts.keys import generate
from zdrgate.accounts.store import Store
from zdrgate.errors import AuthenticationFailed

pytestmark = pytest.mark.services


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


async def test_keys_are_stored_hashed_and_revocable(pg_url: str) -> None:
    store = Store(pg_url)
    store.migrate()
    key = generate()
    store.add_key(key, name="pg", is_admin=False)
    auth = authenticator(store)
    assert (await auth.authenticate(f"Bearer {key.plaintext}")).key_id == key.key_id
    row = store.get_key(key.key_id)
    assert row is not None and row.secret_hash != key.plaintext.split("-", 2)[2]
    assert store.revoke_key(key.key_id)
    with pytest.raises(AuthenticationFailed):
        await authenticator(store).authenticate(f"Bearer {key.plaintext}")
    store.close()


def test_gateway_meters_usage_into_postgres(
    pg_url: str, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])},
        extra={"storage": {"database_url": pg_url}},
    )
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "pg-canary"}]}
    assert httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth()).status_code == 200
    deadline = dt.datetime.now() + dt.timedelta(seconds=5)
    rows: list[dict[str, object]] = []
    while not rows and dt.datetime.now() < deadline:
        time.sleep(0.1)
        rows = gw.state.store.usage_rows()
    assert rows and rows[0]["model"] == "test/chat" and rows[0]["prompt_tokens"] == 11
    assert "pg-canary" not in repr(rows)


def test_usage_rows_written_at_driver_level_match_core(pg_url: str) -> None:
    store = Store(pg_url)
    core, raw = same_as_core(store)
    assert raw == core
    assert raw["started_at"] == dt.datetime.fromtimestamp(EVENT.started_at, dt.UTC)
    store.close()
