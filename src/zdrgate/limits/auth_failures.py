"""Failed authentications per client address, shared by every instance through Redis.

This is the several-instance implementation of the authenticator's
:class:`~zdrgate.accounts.failures.AuthFailures` seam (one instance uses
``MemoryAuthFailures``). ``hit`` counts in the shared counters (a GCRA bucket of
``per_minute`` per address, keyed by a hash of the address) and learns how long the
address is now blocked; ``blocked`` answers from this instance's memory, so the success
path costs no round trip, and an address blocked through one instance is refused on
another from its first failure there.

Usage::

    failures = CounterAuthFailures(redis_counters, per_minute=20)
    if (retry_after := await failures.blocked(addr)) is not None:
        ...                                 # 429 with Retry-After
    await failures.hit(addr)                # raises LimitStoreUnavailable if Redis is down
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from zdrgate.errors import LimitStoreUnavailable
from zdrgate.limits.counters import Counters, StoreUnavailable

_MAX_BLOCKED = 100_000


class CounterAuthFailures:
    def __init__(
        self,
        counters: Counters,
        per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counters = counters
        self.per_minute = per_minute
        self._clock = clock
        self._until: dict[str, float] = {}  # address -> blocked until (this clock), memory only

    async def blocked(self, addr: str) -> float | None:
        """Seconds ``addr`` must wait before trying again; None when it may now."""
        until = self._until.get(addr)
        if until is None:
            return None
        wait = until - self._clock()
        if wait <= 0:
            del self._until[addr]
            return None
        return wait

    async def hit(self, addr: str) -> None:
        """Count a failed authentication of ``addr``."""
        try:
            wait = await self._counters.hit(f"f:{_pseudonym(addr)}", self.per_minute)
        except StoreUnavailable as exc:
            raise LimitStoreUnavailable(
                f"The rate limit store is unavailable ({exc}); authentication was refused."
            ) from None
        if wait > 0:
            if len(self._until) >= _MAX_BLOCKED:
                self._until.clear()
            self._until[addr] = self._clock() + wait


def _pseudonym(addr: str) -> str:
    # The shared counters (Redis) get a hash, not the address: no client address is
    # written anywhere (docs/accounts.md); the entry expires within two minutes.
    return hashlib.blake2b(addr.encode(), digest_size=12).hexdigest()
