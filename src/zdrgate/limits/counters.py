"""The shared-counter seam: what a backend checks and reserves in one atomic step.

A request is admitted by one call, :meth:`Counters.admit`, that checks every rate
limit and budget of its scopes together and, only if all pass, takes its share of
each (all or nothing). What it took is corrected later by :meth:`Counters.settle`
(actual tokens and cost instead of the estimate). Two implementations:
:class:`~zdrgate.limits.memory.MemoryCounters` (one instance) and
:class:`~zdrgate.limits.redis_counters.RedisCounters` (several instances).

Rate limits are a GCRA (a token bucket kept as one number, the "theoretical arrival
time"): a limit of N per minute admits a burst of N, then refills one every 60/N
seconds, as OpenAI's limits do. Counters hold numbers and ids, never content.

Usage::

    verdict = await counters.admit(
        (RateCheck("r:key:k1", limit=3, tokens=False), RateCheck("t:key:k1", 1000, True)),
        (BudgetCheck("d:20261201:key:k1", limit=5.0, ttl=172800),),
        tokens=600,       # what a token bucket takes (a request bucket takes 1)
        usd=0.02,         # what each budget reserves
    )
    if verdict.refused < 0:
        ...  # admitted; later: counters.settle(Settlement(rates=..., budgets=...))
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

PERIOD = 60.0  # seconds: limits are per minute
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateCheck:
    """A per-minute ``limit`` of requests (takes 1) or of ``tokens`` (takes the estimate).

    Made once per key, account or team and reused: nothing in it varies per request."""

    key: str
    limit: int
    tokens: bool


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """Refuse when ``limit`` USD are used (spent + reserved); else reserve the request's."""

    key: str
    limit: float
    ttl: int  # seconds the counter outlives its window's start
    seed: float = 0.0
    """USD already spent in the window by the usage rows, for a counter that does not
    exist yet (a restarted instance, a Redis that lost its data)."""


RateState = tuple[int, float]
"""(remaining, seconds until the bucket is full again)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    refused: int
    """-1: admitted; else the index of the first refusing check (rates, then budgets)."""
    retry_after: float
    rates: tuple[RateState, ...]
    """After the request (admitted) or as things stand (refused), per rate check."""
    epoch: Hashable = None
    """The revocation epoch read in the same round trip (``accounts.epoch``); None:
    these counters do not carry it."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """Corrections after a request: ``(key, limit, delta tokens)`` and ``(key, delta USD)``."""

    rates: tuple[tuple[str, int, float], ...]
    budgets: tuple[tuple[str, float], ...]


class Counters(Protocol):
    carries_epoch: bool
    """Whether :meth:`admit` reads the revocation epoch too (Redis: the same round trip)."""

    async def start(self) -> None:
        """In the app's lifespan, before the first request."""

    async def admit(
        self,
        rates: tuple[RateCheck, ...],
        budgets: tuple[BudgetCheck, ...],
        tokens: float,
        usd: float,
    ) -> Verdict:
        """Check all, then take all or nothing (nothing to check: just read the epoch,
        where carried). Raises StoreUnavailable."""

    def settle(self, settlement: Settlement) -> None:
        """Apply at once, or queue for the next round trip (never raises)."""

    async def hit(self, key: str, limit: int) -> float:
        """Count one event against ``limit`` per minute; seconds blocked now (0: not)."""

    async def used_many(self, keys: Sequence[str]) -> list[float]:
        """USD used (spent + reserved) on each budget counter (0 for none); for the
        budget metrics (``zdrgate.limits.levels``). Raises StoreUnavailable."""

    async def reachable(self) -> bool:
        """Whether the backend answers now (``/readyz``); never raises."""

    async def flush(self) -> None:
        """Send queued settlements now."""

    async def close(self) -> None: ...


class StoreUnavailable(Exception):
    """The backend could not be reached or answered wrongly (its type only, no detail)."""


def blocked_for(tat: float, now: float, limit: int) -> float:
    """Seconds until one more event fits under ``limit`` per minute (0: it fits now)."""
    step = PERIOD / limit
    return max(max(tat, now) + step - now - PERIOD, 0.0)
