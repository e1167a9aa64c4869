"""Counters in this process's memory: the one-instance backend.

Every operation runs without an ``await`` in between, so under asyncio it is atomic
by construction; no lock is needed. Entries whose window has passed are swept when
the tables grow, so memory stays bounded by the active keys.

Usage::

    counters = MemoryCounters()
    verdict = await counters.admit((RateCheck("r:key:k1", 3, False),), (), tokens=0, usd=0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from zdrgate.limits.counters import (
    EPSILON,
    PERIOD,
    BudgetCheck,
    RateCheck,
    RateState,
    Settlement,
    Verdict,
    blocked_for,
)

_SWEEP_AT = 50_000  # entries before expired ones are dropped


class MemoryCounters:
    carries_epoch = False  # one process: the epoch is read where keys are identified

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}  # rate key -> theoretical arrival time
        self._used: dict[str, list[float]] = {}  # budget key -> [USD used, expires at]

    async def admit(
        self,
        rates: tuple[RateCheck, ...],
        budgets: tuple[BudgetCheck, ...],
        tokens: float,
        usd: float,
    ) -> Verdict:
        now = self._clock()
        tats = self._tats
        states: list[RateState] = []
        news: list[float] = []
        refused, retry = -1, 0.0
        limit_at = now + PERIOD + EPSILON
        # The GCRA of counters.py, inlined: this loop is on every limited request.
        for index, check in enumerate(rates):
            step = PERIOD / check.limit
            tat = tats.get(check.key, now)
            base = tat if tat > now else now
            new = base + (min(tokens, check.limit) if check.tokens else 1) * step
            if new > limit_at:
                if refused < 0:
                    refused, retry = index, new - now - PERIOD
                used = base - now
            else:
                used = new - now
            news.append(new)
            states.append((int((PERIOD - used) / step + EPSILON), used))
        if refused < 0:
            refused = self._budget_refusal(budgets, now, len(rates))
        if refused >= 0:
            return Verdict(refused, retry, tuple(states))
        for check, new in zip(rates, news, strict=True):
            tats[check.key] = new
        used_table = self._used
        for budget in budgets:
            entry = used_table.get(budget.key)
            if entry is None:
                used_table[budget.key] = [budget.seed + usd, now + budget.ttl]
            else:
                entry[0] += usd
        if len(tats) > _SWEEP_AT or len(used_table) > _SWEEP_AT:
            self._sweep(now)
        return Verdict(-1, 0.0, tuple(states))

    def _budget_refusal(self, budgets: tuple[BudgetCheck, ...], now: float, offset: int) -> int:
        for index, budget in enumerate(budgets):
            entry = self._used.get(budget.key)
            if entry is not None and entry[1] <= now:
                del self._used[budget.key]
                entry = None
            if (entry[0] if entry is not None else budget.seed) >= budget.limit:
                return offset + index
        return -1

    def settle(self, settlement: Settlement) -> None:
        now = self._clock()
        for key, limit, delta in settlement.rates:
            tat = max(self._tats.get(key, now), now) + delta * PERIOD / limit
            if tat > now:
                self._tats[key] = tat
            else:
                self._tats.pop(key, None)
        for key, usd in settlement.budgets:
            entry = self._used.get(key)
            if entry is not None:  # else its window has passed
                entry[0] += usd

    async def hit(self, key: str, limit: int) -> float:
        now = self._clock()
        tat = min(max(self._tats.get(key, now), now) + PERIOD / limit, now + 2 * PERIOD)
        self._tats[key] = tat
        return blocked_for(tat, now, limit)

    async def used(self, key: str) -> float:
        """USD used (spent + reserved) on a budget counter; for tests and reports."""
        entry = self._used.get(key)
        return entry[0] if entry is not None and entry[1] > self._clock() else 0.0

    async def used_many(self, keys: Sequence[str]) -> list[float]:
        now = self._clock()
        entries = [self._used.get(key) for key in keys]
        return [e[0] if e is not None and e[1] > now else 0.0 for e in entries]

    async def reachable(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _sweep(self, now: float) -> None:
        self._tats = {k: t for k, t in self._tats.items() if t > now}
        self._used = {k: e for k, e in self._used.items() if e[1] > now}
