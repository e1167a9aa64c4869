"""Values that expire (OAuth tokens, temporary AWS keys), kept in memory until shortly
before they do: renewed ``RENEW_BEFORE`` seconds ahead (or at half the life of a short
one). However many calls wait for a value, one is obtained at a time per key.
:class:`CredentialCache` is the base of the caches that obtain them from an endpoint
through the gateway's transport (``upstream.oauth``, ``upstream.aws_keys``).

Usage::

    held = Renewing[OAuthClient, str]()
    token = await held.get(client, lambda: obtain(client))  # obtain -> (token, lifetime s)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream.transport import Transport, UpstreamFailure, fetch

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RENEW_BEFORE = 300.0  # seconds
MAX_ANSWER_BYTES = 64 * 1024  # a token endpoint's answer; the rest is never read


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


class CredentialCache(Generic[K, V]):
    """Credentials obtained from an endpoint through ``transport`` and held until shortly
    before they expire (``monotonic`` and ``wall`` are the clocks, for tests)."""

    def __init__(
        self,
        transport: Transport,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._wall = wall
        self._held = Renewing[K, V](monotonic)

    async def _fetch(
        self, url: str, method: str, headers: Iterable[tuple[str, str]], body: bytes,
        where: str,
    ) -> bytes:
        """The body (at most ``MAX_ANSWER_BYTES``) of a 200 answer; any other status
        fails the call as ``upstream_auth_failed`` (``where``: the provider), its body
        unread beyond the limit and dropped."""
        status, answer = await fetch(self._transport, url, method, headers, body, MAX_ANSWER_BYTES)
        if status != 200:
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, where, status)
        return answer
