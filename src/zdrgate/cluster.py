"""What instances share through Redis beyond counters: endpoint health.

When one instance sees an endpoint fail (or recover after failing), it publishes the
endpoint's id on a Redis channel; every instance subscribed applies it to its own
:class:`~zdrgate.routing.HealthBoard`, so an endpoint that fails for one is tried last
by all for the cooldown. Nothing per request: a message only on a change of state.

Messages are ``<instance id> <0|1> <endpoint id>``; an endpoint id that is not in this
instance's catalog is ignored, and nothing but ids goes over the channel. Sharing is
best effort: Redis being away only means each instance learns from its own failures.

Usage::

    sync = HealthSync(board, redis_url, prefix="zdrgate:", known=catalog_endpoint_ids)
    await sync.start()      # subscribe; board.on_change now publishes
    await sync.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Collection

import redis.asyncio as redis

from zdrgate.routing import HealthBoard

log = logging.getLogger("zdrgate.cluster")


class HealthSync:
    def __init__(
        self, board: HealthBoard, url: str, *, prefix: str, known: Collection[str]
    ) -> None:
        self._board = board
        self._client = redis.Redis.from_url(url)
        self._channel = f"{prefix}health"
        self._known = known
        self._instance = secrets.token_hex(6)
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._board.on_change = self._publish
        self._listener = asyncio.create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        self._board.on_change = None
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._sending:
            await asyncio.wait(self._sending, timeout=2)
        await self._client.aclose()

    def _publish(self, endpoint_id: str, healthy: bool) -> None:
        if len(self._sending) >= 256:  # Redis is slow or away: drop, never queue without end
            return
        message = f"{self._instance} {int(healthy)} {endpoint_id}"
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._client.publish(self._channel, message)
        except redis.RedisError as exc:
            log.warning("endpoint health not shared: %s", type(exc).__name__)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._apply(message["data"])
            except redis.RedisError as exc:
                log.warning("endpoint health channel lost: %s", type(exc).__name__)
                await asyncio.sleep(1.0)

    def _apply(self, data: bytes) -> None:
        try:
            instance, healthy, endpoint_id = data.decode().split(" ", 2)
        except (UnicodeDecodeError, ValueError):
            return
        if instance != self._instance and endpoint_id in self._known and healthy in ("0", "1"):
            self._board.apply_remote(endpoint_id, healthy == "1")
