"""Endpoint health shared through the machine's real Redis: a circuit opened by failures
one instance saw is respected by the other."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from zdrgate.cluster import HealthSync
from zdrgate.routing import HealthBoard

pytestmark = pytest.mark.services
REDIS_URL = "redis://127.0.0.1:6379/0"
KNOWN = {"groq/llama", "together/llama"}


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except redis.ConnectionError:
        await client.aclose()
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    await client.aclose()
    yield f"zdrgate-test-{uuid.uuid4().hex[:10]}:"


async def eventually(check: object, timeout: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_failure_seen_by_one_instance_is_respected_by_the_other(prefix: str) -> None:
    a, b = HealthBoard(30.0), HealthBoard(30.0)
    sync_a = HealthSync(a, REDIS_URL, prefix=prefix, known=KNOWN)
    sync_b = HealthSync(b, REDIS_URL, prefix=prefix, known=KNOWN)
    await sync_a.start()
    await sync_b.start()
    try:
        a.record_failure("groq/llama")
        assert await eventually(lambda: b.failed_recently("groq/llama"))
        assert not b.failed_recently("together/llama")
        a.record_success("groq/llama", 0.1)
        assert await eventually(lambda: not b.failed_recently("groq/llama"))
    finally:
        await sync_a.close()
        await sync_b.close()


async def test_unknown_ids_and_malformed_messages_are_ignored(prefix: str) -> None:
    board = HealthBoard(30.0)
    sync = HealthSync(board, REDIS_URL, prefix=prefix, known=KNOWN)
    await sync.start()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.publish(f"{prefix}health", "other 0 evil/endpoint")
        await client.publish(f"{prefix}health", b"\xff\xfe garbage")
        await client.publish(f"{prefix}health", "other 0 together/llama")
        assert await eventually(lambda: board.failed_recently("together/llama"))
        assert "evil/endpoint" not in board._entries
    finally:
        await client.aclose()
        await sync.close()


async def test_successes_of_a_healthy_endpoint_publish_nothing(prefix: str) -> None:
    board = HealthBoard(30.0)
    published: list[tuple[str, bool]] = []
    board.on_change = lambda endpoint, healthy: published.append((endpoint, healthy))
    for _ in range(100):
        board.record_success("groq/llama", 0.1)
    assert published == []
    board.record_failure("groq/llama")
    board.record_success("groq/llama", 0.1)
    assert published == [("groq/llama", False), ("groq/llama", True)]
