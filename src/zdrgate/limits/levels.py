"""How much of each budget is left, summed up for ``/metrics`` without naming any budget.

A budget's counter is named by its key, account or team id; those ids are unbounded
(and an account id is personal data), so no metric carries them. What an operator can
alert on is, per **scope** (``key``, ``account``, ``team``) and **window** (``day``,
``month``): the lowest fraction left of any budget, how many budgets are low (under
:data:`LOW` left) or spent, and how many requests were refused with a 402. Label
values come only from these fixed sets.

The budgets summed are those this instance has checked today (UTC): the limiter's
checks, read back from the shared counters at scrape time (one ``MGET`` on Redis), so
"used" is spent plus reserved by requests in flight, on every instance.

Usage::

    levels = await limiter.budget_levels()     # at scrape time
    levels.lowest[("key", "day")]              # 0.0 .. 1.0
    levels.counts[("team", "month", "low")]    # budgets with under 10 % left
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

SCOPES = ("key", "account", "team")
WINDOWS = {"d": "day", "m": "month"}
LEVELS = ("ok", "low", "spent")
LOW = 0.10
"""A budget with less than this fraction left is ``low``."""

Pair = tuple[str, str]  # (scope, window)


class UsedReader(Protocol):
    async def used_many(self, keys: Sequence[str]) -> list[float]: ...


@dataclass
class BudgetLevels:
    lowest: dict[Pair, float] = field(default_factory=dict)
    """Per (scope, window) with at least one budget: the smallest fraction left."""
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """Per (scope, window, level): how many budgets; every combination is present."""
    refusals: dict[Pair, int] = field(default_factory=dict)
    """Per (scope, window): requests refused (402) by this instance since it started."""


def scope_of(budget_key: str) -> Pair | None:
    """``d:20261201:key:<id>`` -> ("key", "day"); None for a key of another shape."""
    parts = budget_key.split(":", 3)
    if len(parts) != 4 or parts[0] not in WINDOWS or parts[2] not in SCOPES:
        return None
    return parts[2], WINDOWS[parts[0]]


def empty_refusals() -> dict[Pair, int]:
    return {(scope, window): 0 for scope in SCOPES for window in WINDOWS.values()}


async def measure(
    counters: UsedReader, limits: Mapping[str, float], refusals: Mapping[Pair, int]
) -> BudgetLevels:
    """The levels of the budgets ``limits`` names (counter key -> limit in USD)."""
    levels = BudgetLevels(refusals=dict(refusals))
    for scope in SCOPES:
        for window in WINDOWS.values():
            for level in LEVELS:
                levels.counts[(scope, window, level)] = 0
    keys = [k for k in limits if scope_of(k) is not None]
    used = await counters.used_many(keys) if keys else []
    for key, spent in zip(keys, used, strict=True):
        pair = scope_of(key)
        assert pair is not None
        limit = limits[key]
        left = max(limit - spent, 0.0) / limit if limit > 0 else 0.0
        levels.lowest[pair] = min(levels.lowest.get(pair, 1.0), left)
        level = "spent" if left <= 0 else "low" if left < LOW else "ok"
        levels.counts[(*pair, level)] += 1
    return levels
