"""The proofs on the scaled mode's services: the policy log on PostgreSQL, and
`zdrgate audit` scanning PostgreSQL rows and Redis keys (under CI=true these run)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from conftest import GatewayFactory, chat_model, provider
from databases import postgres_schema_url
from zdrgate.accounts.keys import generate
from zdrgate.accounts.store import Store
from zdrgate.audit.run import new_canary, run_audit
from zdrgate.config import parse_settings
from zdrgate.policylog import PolicyLog

pytestmark = pytest.mark.services
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"zdrgate-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def test_policy_log_on_postgres(pg_url: str, make_gateway: GatewayFactory) -> None:
    providers = {"p": provider("http://127.0.0.1:9/v1", [chat_model("ok")])}
    gw = make_gateway(providers, extra={"storage": {"database_url": pg_url}})
    rows = httpx.get(gw.v1 + "/policy-log", headers=gw.auth()).json()["data"]
    assert [r["reason"] for r in rows] == ["initial"]
    make_gateway(providers, extra={"storage": {"database_url": pg_url}})  # a restart
    log = PolicyLog(gw.state.store.engine)
    assert len(log.entries()) == 1  # times and digests read back the same: nothing changed
    assert log.verify(gw.state.receipts.ring.all_keys()).ok


def test_audit_finds_canaries_in_postgres_and_redis(
    pg_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    settings = parse_settings({"storage": {
        "database_url": pg_url, "redis_url": REDIS_URL, "data_dir": str(tmp_path)}})
    clean = asyncio.run(run_audit(settings))
    assert clean.ok, clean.hits
    assert any(p["place"] == "redis" for p in clean.places)
    canary = new_canary()
    store = Store(pg_url)
    store.add_key(generate(), name=canary, is_admin=False)
    store.close()
    client = redis.Redis.from_url(REDIS_URL)
    client.set(redis_prefix + "cache", canary.encode())
    client.close()
    report = asyncio.run(run_audit(settings, canary=canary))
    places = {h["place"] for h in report.hits}
    assert "database" in places
    assert any(p.startswith("redis") for p in places)
