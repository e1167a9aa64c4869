"""Failed authentications per client address: N a minute, then 429 for a while.

The authenticator asks :meth:`AuthFailures.blocked` before it checks a key and
calls :meth:`AuthFailures.hit` after a key fails. ``blocked`` answers from this
instance's memory (no round trip on the success path); ``hit`` counts in the
shared counters and learns how long the address is blocked, so an address blocked
through one instance is refused on another from its first failure there.

Usage::

    if wait := failures.blocked(addr):
        raise failures.refusal(wait)
    ...                                     # the key did not match
    await failures.hit(addr)                # raises LimitStoreUnavailable if the store is down
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from zdrgate.errors import LimitStoreUnavailable, RateLimited
from zdrgate.limits.counters import Counters, StoreUnavailable

DEFAULT_PER_MINUTE = 20
_MAX_BLOCKED = 100_000


class AuthFailures:
    def __init__(
        self,
        counters: Counters,
        per_minute: int = DEFAULT_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counters = counters
        self.per_minute = per_minute
        self._clock = clock
        self._until: dict[str, float] = {}  # address -> blocked until (this clock), memory only

    def blocked(self, addr: str) -> float:
        """Seconds ``addr`` must wait before trying a key again; 0.0 when it may."""
        until = self._until.get(addr)
        if until is None:
            return 0.0
        wait = until - self._clock()
        if wait <= 0:
            del self._until[addr]
            return 0.0
        return wait

    async def hit(self, addr: str) -> float:
        """Count a failed authentication; seconds ``addr`` is now blocked (0.0: not)."""
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
        return wait

    def refusal(self, wait: float) -> RateLimited:
        """The 429 for a blocked address."""
        seconds = max(int(wait + 0.999), 1)
        return RateLimited(
            f"Too many failed authentications from this address ({self.per_minute} a minute). "
            f"Try again in {seconds}s.",
            headers={"retry-after": str(seconds)},
            code="too_many_failed_authentications",
        )


def _pseudonym(addr: str) -> str:
    # The shared counters (Redis) get a hash, not the address: no client address is
    # written anywhere (docs/accounts.md); the entry expires within two minutes.
    return hashlib.blake2b(addr.encode(), digest_size=12).hexdigest()
