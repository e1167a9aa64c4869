"""API keys over HTTP and across processes: authentication before the body, the
envelope of each API, failed attempts per address, and revocation that takes effect
at once, on SQLite with the epoch file and on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from click.testing import CliRunner

from auth_helpers import authenticator
from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.accounts.auth import Authenticator
from zdrgate.accounts.epoch import FileEpoch, RedisEpoch
from zdrgate.accounts.failures import MemoryAuthFailures
from zdrgate.accounts.keys import Principal, generate
from zdrgate.accounts.keys_store import KeySpec, create_key
from zdrgate.accounts.store import Store
from zdrgate.cli import main
from zdrgate.errors import AuthenticationFailed, PermissionDenied, ServiceUnavailable
from zdrgate.server.identity import require_admin

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
CHAT = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}


async def test_a_bad_key_is_refused_before_the_body_is_sent(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model()])})
    port = int(gw.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer zdr-1-wrong\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
    )
    await writer.drain()
    # The server answers although not one byte of the 5 MB body was sent.
    status = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status.startswith(b"HTTP/1.1 401")
    assert upstream.count() == 0


def test_a_refusal_on_the_messages_api_is_in_anthropics_envelope(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model()])})
    reply = httpx.post(gw.v1 + "/messages", json={}, headers={"x-api-key": "zdr-1-wrong"})
    assert reply.status_code == 401
    assert reply.json()["type"] == "error"
    assert reply.json()["error"]["type"] == "authentication_error"


def test_every_v1_path_needs_a_key(upstream: FakeOpenAI, make_gateway: GatewayFactory) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model()])})
    for path in ("/models", "/models/test/chat/endpoints", "/files", "/no-such-route"):
        reply = httpx.get(gw.v1 + path)
        assert reply.status_code == 401, path
        assert reply.json()["error"]["type"] == "authentication_error"
    assert httpx.get(gw.url + "/healthz").status_code == 200


def test_too_many_failed_keys_from_one_address_get_429_with_retry_after(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    # 5 a minute (a token back every 12 s): the test does not race the refill on a
    # loaded machine, as it could at the default 20 (every 3 s).
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model()])},
        extra={"limits": {"failed_auth_per_minute": 5}},
    )
    bad = {"Authorization": "Bearer zdr-abc-wrong"}
    statuses = [httpx.get(gw.v1 + "/models", headers=bad).status_code for _ in range(8)]
    assert statuses[:5] == [401] * 5
    blocked = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=bad)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "too_many_failed_authentications"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60


def test_a_key_revoked_by_the_cli_stops_at_once_in_a_running_gateway(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/zdrgate.db"
    storage = {"database_url": db, "data_dir": str(tmp_path / "data")}
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model()])}, extra={"storage": storage}
    )
    key = generate()
    gw.state.store.migrate()
    gw.state.store.add_key(key, name="t", is_admin=False)
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=headers).status_code == 200
    config = tmp_path / "z.toml"
    config.write_text(f'[storage]\ndatabase_url = "{db}"\ndata_dir = "{tmp_path / "data"}"\n')
    result = CliRunner().invoke(main, ["keys", "revoke", key.key_id, "--config", str(config)])
    assert result.exit_code == 0, result.output
    refused = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=headers)
    assert refused.status_code == 401
    assert upstream.count() == 1


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    schema = f"zdrgate_{uuid.uuid4().hex[:12]}"
    admin.execute(f"create schema {schema}")
    try:
        yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"drop schema {schema} cascade")
        admin.close()


@pytest.fixture(params=["sqlite+file", pytest.param("postgres+redis", marks=pytest.mark.services)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """A database and the epoch two gateway processes would share."""
    if request.param == "sqlite+file":
        yield f"sqlite:///{tmp_path}/shared.db", tmp_path / "auth-epoch"
        return
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except (redis.ConnectionError, psycopg.OperationalError):
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    key = f"zdrgate-test-{uuid.uuid4().hex}:auth:epoch"
    with postgres_schema_url() as url:
        yield url, key
    client.delete(key)
    client.close()


async def test_a_revocation_reaches_another_process_at_once(
    shared: tuple[str, object],
) -> None:
    url, where = shared

    def epoch() -> FileEpoch | RedisEpoch:
        return FileEpoch(where) if isinstance(where, Path) else RedisEpoch(REDIS_URL, str(where))

    first, second = Store(url), Store(url)
    first.migrate()
    key = generate()
    first.add_key(key, name="shared", is_admin=False)
    here, there = authenticator(first, epoch=epoch()), authenticator(second, epoch=epoch())
    assert (await here.key(key.plaintext)).key_id == key.key_id
    assert (await there.key(key.plaintext)).key_id == key.key_id  # cached on both
    assert first.revoke_key(key.key_id)
    here.epoch.bump()
    with pytest.raises(AuthenticationFailed):
        await there.key(key.plaintext)  # the very next request, no waiting
    for auth in (here, there):
        await auth.epoch.close()
    first.close()
    second.close()


async def test_an_unreachable_redis_refuses_rather_than_skips_the_check() -> None:
    rows_key = generate()
    epoch = RedisEpoch("redis://127.0.0.1:1/0")  # nothing listens on port 1
    auth = Authenticator(lambda _id: None, None, epoch, MemoryAuthFailures())
    with pytest.raises(ServiceUnavailable):
        await auth.key(rows_key.plaintext)
    await epoch.close()


def test_a_keys_allowlist_and_images_flag_from_its_row_are_enforced(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model(), chat_model("ok", "test/other")])}
    )
    gw.state.store.migrate()
    spec = KeySpec(name="narrow", models=frozenset({"test/chat"}), images_allowed=False)
    with gw.state.store.begin() as conn:
        key, _row = create_key(conn, spec)
    headers = {"Authorization": f"Bearer {key.plaintext}"}
    assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=headers).status_code == 200
    other = {**CHAT, "model": "test/other"}
    refused = httpx.post(gw.v1 + "/chat/completions", json=other, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert "test/other" in refused.json()["error"]["message"]
    drawing = {**CHAT, "modalities": ["image", "text"]}
    refused = httpx.post(gw.v1 + "/chat/completions", json=drawing, headers=headers)
    assert refused.json()["error"]["code"] == "images_not_allowed"
    assert upstream.count() == 1


def test_only_admins_pass_require_admin() -> None:
    assert require_admin(Principal("k", is_admin=True)).is_admin
    with pytest.raises(PermissionDenied):
        require_admin(Principal("k", is_admin=False))
