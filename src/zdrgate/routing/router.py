"""Ordering the approved endpoints of a request.

Only approvals come in, so routing can never reach an endpoint the policy refused:
fallbacks move between approved endpoints only.

Default order: endpoints that failed recently go last; among the rest the first is
drawn at random weighted by 1/price² (cheap endpoints take most traffic, and no
single one takes all of it), then the others cheapest first. ``sort`` replaces the
draw with a strict order by price, latency or throughput; ``order`` puts named
providers first; ``allow_fallbacks = false`` keeps only those (or only the first).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from zdrgate.catalog.model import Endpoint
from zdrgate.policy import Approval
from zdrgate.routing.health import HealthBoard

SortKey = Literal["price", "latency", "throughput"]


@dataclass(frozen=True, slots=True)
class Preferences:
    order: tuple[str, ...] = ()  # provider ids or names, lower case
    allow_fallbacks: bool = True
    sort: SortKey | None = None


def price_of(endpoint: Endpoint) -> float:
    """Blended price used for ordering; an unknown price sorts last."""
    if endpoint.prompt_price is None and endpoint.completion_price is None:
        return endpoint.image_price if endpoint.image_price is not None else float("inf")
    return (endpoint.prompt_price or 0.0) + (endpoint.completion_price or 0.0)


def order_approvals(
    approvals: Sequence[Approval],
    prefs: Preferences,
    health: HealthBoard,
    rng: random.Random,
) -> list[Approval]:
    ranked = _ranked(list(approvals), prefs, health, rng)
    healthy = [a for a in ranked if not health.failed_recently(a.endpoint.id)]
    ranked = healthy + [a for a in ranked if health.failed_recently(a.endpoint.id)]
    if prefs.order:
        ranked = _ordered_first(ranked, prefs.order)
        if not prefs.allow_fallbacks:
            return [a for a in ranked if _rank_in(a.endpoint, prefs.order) is not None]
    if not prefs.allow_fallbacks:
        return ranked[:1]
    return ranked


def _ranked(
    approvals: list[Approval], prefs: Preferences, health: HealthBoard, rng: random.Random
) -> list[Approval]:
    by_price = sorted(approvals, key=lambda a: (price_of(a.endpoint), a.endpoint.id))
    if prefs.sort == "price":
        return by_price
    if prefs.sort == "latency":
        return sorted(by_price, key=lambda a: _latency(health, a.endpoint.id))
    if prefs.sort == "throughput":
        return sorted(by_price, key=lambda a: -_throughput(health, a.endpoint.id))
    return _weighted_first(by_price, rng)


def _weighted_first(by_price: list[Approval], rng: random.Random) -> list[Approval]:
    if len(by_price) < 2:
        return by_price
    weights = [1.0 / max(price_of(a.endpoint), 1e-3) ** 2 for a in by_price]
    if any(w == 0.0 for w in weights):  # unknown prices: keep the strict order
        return by_price
    first = rng.choices(range(len(by_price)), weights=weights)[0]
    return [by_price[first], *by_price[:first], *by_price[first + 1 :]]


def _latency(health: HealthBoard, endpoint_id: str) -> float:
    value = health.get(endpoint_id).latency_s
    return value if value is not None else float("inf")


def _throughput(health: HealthBoard, endpoint_id: str) -> float:
    value = health.get(endpoint_id).throughput_tps
    return value if value is not None else 0.0


def _rank_in(endpoint: Endpoint, order: tuple[str, ...]) -> int | None:
    for index, name in enumerate(order):
        if name in (endpoint.provider.id.lower(), endpoint.provider.name.lower()):
            return index
    return None


def _ordered_first(ranked: list[Approval], order: tuple[str, ...]) -> list[Approval]:
    named = [a for a in ranked if _rank_in(a.endpoint, order) is not None]
    named.sort(key=lambda a: _rank_in(a.endpoint, order) or 0)
    return named + [a for a in ranked if _rank_in(a.endpoint, order) is None]
