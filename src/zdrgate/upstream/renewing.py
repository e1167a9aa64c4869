"""Values that expire (OAuth tokens, temporary AWS keys), kept in memory until shortly
before they do: renewed ``RENEW_BEFORE`` seconds ahead (or at half the life of a short
one). However many calls wait for a value, one is obtained at a time per key.

Usage::

    held = Renewing[OAuthClient, str]()
    token = await held.get(client, lambda: obtain(client))  # obtain -> (token, lifetime s)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RENEW_BEFORE = 300.0  # seconds


class Renewing(Generic[K, V]):
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._held: dict[K, tuple[V, float]] = {}  # value, renew after (monotonic)
        self._locks: dict[K, asyncio.Lock] = {}

    async def get(self, key: K, obtain: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        if (fresh := self._fresh(key)) is not None:
            return fresh
        async with self._locks.setdefault(key, asyncio.Lock()):
            if (fresh := self._fresh(key)) is not None:
                return fresh  # another call obtained it meanwhile
            value, lifetime = await obtain()
            renew_in = lifetime - min(RENEW_BEFORE, lifetime / 2)
            self._held[key] = (value, self._monotonic() + renew_in)
            return value

    def _fresh(self, key: K) -> V | None:
        held = self._held.get(key)
        return held[0] if held is not None and held[1] > self._monotonic() else None
