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
        (RateCheck("r:key:k1", limit=3, cost=1),),
        (BudgetCheck("d:20261201:key:k1", limit=5.0, reserve=0.02, ttl=172800),),
    )
    if verdict.refused < 0:
        ...  # admitted; later: counters.settle(Settlement(rates=..., budgets=...))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

PERIOD = 60.0  # seconds: limits are per minute
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateCheck:
    """Take ``cost`` (1 request, or estimated tokens) from a per-minute ``limit``."""

    key: str
    limit: int
    cost: float


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """Refuse when ``limit`` USD are used (spent + reserved); else reserve ``reserve``."""

    key: str
    limit: float
    reserve: float
    ttl: int  # seconds the counter outlives its window's start


@dataclass(frozen=True, slots=True)
class RateState:
    remaining: int
    reset: float  # seconds until the bucket is full again


@dataclass(frozen=True, slots=True)
class Verdict:
    refused: int
    """-1: admitted; else the index of the first refusing check (rates, then budgets)."""
    retry_after: float
    rates: tuple[RateState, ...]
    """After the request (admitted) or as things stand (refused), per rate check."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """Corrections after a request: ``(key, limit, delta tokens)`` and ``(key, delta USD)``."""

    rates: tuple[tuple[str, int, float], ...]
    budgets: tuple[tuple[str, float], ...]


class Counters(Protocol):
    async def start(self) -> None:
        """In the app's lifespan, before the first request."""

    async def admit(
        self, rates: tuple[RateCheck, ...], budgets: tuple[BudgetCheck, ...]
    ) -> Verdict:
        """Check all, then take all or nothing. Raises StoreUnavailable."""

    def settle(self, settlement: Settlement) -> None:
        """Apply at once, or queue for the next round trip (never raises)."""

    async def hit(self, key: str, limit: int) -> float:
        """Count one event against ``limit`` per minute; seconds blocked now (0: not)."""

    async def flush(self) -> None:
        """Send queued settlements now."""

    async def close(self) -> None: ...


class StoreUnavailable(Exception):
    """The backend could not be reached or answered wrongly (its type only, no detail)."""


def gcra(tat: float, now: float, limit: int, cost: float) -> tuple[float | None, RateState, float]:
    """(new theoretical arrival time or None if refused, state, retry after seconds).

    ``cost`` above ``limit`` counts as ``limit``: such a request waits for a full
    bucket instead of never passing (its estimate, not its actual size, is large).
    """
    step = PERIOD / limit
    base = max(tat, now)
    new = base + min(cost, limit) * step
    if new - now > PERIOD + _EPSILON:
        return None, state_of(base, now, step), new - now - PERIOD
    return new, state_of(new, now, step), 0.0


def state_of(tat: float, now: float, step: float) -> RateState:
    used = max(tat - now, 0.0)
    return RateState(max(math.floor((PERIOD - used) / step + _EPSILON), 0), used)


def blocked_for(tat: float, now: float, limit: int) -> float:
    """Seconds until one more event fits under ``limit`` per minute (0: it fits now)."""
    step = PERIOD / limit
    return max(max(tat, now) + step - now - PERIOD, 0.0)
