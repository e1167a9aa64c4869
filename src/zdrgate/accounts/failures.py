"""Failed authentications per client address: the seam the authenticators call.

Usage::

    failures = MemoryAuthFailures(limit=20, window_seconds=60)
    if (retry_after := await failures.blocked(addr)) is not None:
        ...                                   # 429 with Retry-After, nothing checked
    await failures.hit(addr)                  # after a wrong key, password or session

One instance counts in memory (this module). Several instances share the count
through the rate limiter's Redis implementation of :class:`AuthFailures`. Only the
address and a count are held, for at most one window.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_SECONDS = 60.0
_MAX_ADDRESSES = 100_000


class AuthFailures(Protocol):
    async def hit(self, addr: str) -> None:
        """Count one failed authentication from ``addr``."""
        ...

    async def blocked(self, addr: str) -> float | None:
        """Seconds until ``addr`` may try again, or None when it may now."""
        ...


class MemoryAuthFailures:
    """A fixed window per address: ``limit`` failures within ``window_seconds`` block
    the address until the window ends."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # addr -> (window end, failures)

    async def hit(self, addr: str) -> None:
        now = self._clock()
        if addr not in self._windows and len(self._windows) >= _MAX_ADDRESSES:
            self._evict(now)
        end, count = self._windows.get(addr, (0.0, 0))
        if end <= now:
            end, count = now + self.window, 0
        self._windows[addr] = (end, count + 1)

    async def blocked(self, addr: str) -> float | None:
        entry = self._windows.get(addr)
        if entry is None:
            return None
        end, count = entry
        now = self._clock()
        if end <= now:
            del self._windows[addr]
            return None
        return end - now if count >= self.limit else None

    def _evict(self, now: float) -> None:
        expired = [a for a, (end, _) in self._windows.items() if end <= now]
        for addr in expired or [next(iter(self._windows))]:
            del self._windows[addr]
