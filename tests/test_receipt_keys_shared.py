"""Several instances share one database: the JWKS any of them serves lists every key
any of them signed with, so a receipt verifies whichever instance a client asks,
also after one instance rotated its key and restarted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from databases import DATABASES, database_url
from zdrgate.audit.probes import running
from zdrgate.catalog.model import Catalog
from zdrgate.config import parse_settings
from zdrgate.receipts import (
    ReceiptFacts,
    digest,
    keys_of_jwks,
    rotate_generated_key,
    verify_receipt,
)
from zdrgate.server.app import app_for, build_state
from zdrgate.server.state import AppState

FACTS = ReceiptFacts("test/chat", "fake/ok", "fake", None, "sha256:" + "ab" * 32,
                     "2026-11-01", 0, "https://api.fake.example")


@asynccontextmanager
async def instance(db: str, data_dir: Path) -> AsyncIterator[tuple[AppState, httpx.AsyncClient]]:
    """One gateway (its own data directory, hence its own generated key) on ``db``."""
    settings = parse_settings({"storage": {"database_url": db, "data_dir": str(data_dir)}})
    state = build_state(settings, catalog=Catalog({}, {}), environ={})
    state.receipts.ring.cache_seconds = 0  # see the others' keys at every read
    app = app_for(state)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
            yield state, client
    state.store.close()


def receipt_of(state: AppState) -> str:
    return state.receipts.sign("req_1", FACTS, {"fields": [], "headers": []},
                               digest(b"{}"), digest(b"[]"))


async def verifies_at(client: httpx.AsyncClient, token: str) -> bool:
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    keys = keys_of_jwks(jwks.content)
    by_route = await client.post("/v1/receipts/verify", json={"receipt": token})
    return verify_receipt(token, keys, b"{}", b"[]").ok and by_route.json().get("valid") is True


@pytest.mark.parametrize("kind", DATABASES)
def test_each_instance_serves_every_instances_keys(kind: str, tmp_path: Path) -> None:
    async def scenario(db: str) -> None:
        async with instance(db, tmp_path / "pod-a") as (a, client_a), \
                instance(db, tmp_path / "pod-b") as (b, client_b):
            assert a.receipts.ring.kid != b.receipts.ring.kid
            from_a, from_b = receipt_of(a), receipt_of(b)
            assert await verifies_at(client_b, from_a)
            assert await verifies_at(client_a, from_b)
        old_kid = a.receipts.ring.kid
        rotate_generated_key(tmp_path / "pod-a")
        async with instance(db, tmp_path / "pod-a") as (a2, _), \
                instance(db, tmp_path / "pod-b") as (_, client_b):
            assert a2.receipts.ring.kid != old_kid
            jwks = (await client_b.get("/.well-known/jwks.json")).json()
            kids = {k["kid"] for k in jwks["keys"]}
            assert kids == {old_kid, a2.receipts.ring.kid, b.receipts.ring.kid}
            assert await verifies_at(client_b, from_a)  # signed before the rotation
            assert await verifies_at(client_b, receipt_of(a2))

    with database_url(kind, tmp_path) as db:
        asyncio.run(scenario(db))
