from __future__ import annotations

import random

from unit.test_policy_engine import TODAY, endpoint
from zdrgate.catalog.model import Model
from zdrgate.policy import PolicyEngine
from zdrgate.routing import HealthBoard, Preferences, order_approvals


def approvals(*prices: float) -> list:
    eps = tuple(endpoint(pid=f"p{i}", price=p) for i, p in enumerate(prices))
    return list(PolicyEngine(180).decide(Model("a/m", "M", eps), TODAY).approvals)


def ids(ordered: list) -> list[str]:
    return [a.endpoint.provider.id for a in ordered]


def test_sort_price_is_strictly_cheapest_first() -> None:
    got = order_approvals(
        approvals(3, 1, 2), Preferences(sort="price"), HealthBoard(), random.Random(1)
    )
    assert ids(got) == ["p1", "p2", "p0"]


def test_default_weighting_prefers_cheap_endpoints() -> None:
    rng, board, firsts = random.Random(3), HealthBoard(), []
    for _ in range(400):
        firsts.append(ids(order_approvals(approvals(1, 3), Preferences(), board, rng))[0])
    assert firsts.count("p0") > 300  # weight 1/price^2: 9 to 1
    assert firsts.count("p1") > 0


def test_recently_failed_endpoints_go_last() -> None:
    now = [100.0]
    board = HealthBoard(cooldown_seconds=30, clock=lambda: now[0])
    board.record_failure("p0/m")
    got = order_approvals(approvals(1, 2), Preferences(sort="price"), board, random.Random(1))
    assert ids(got) == ["p1", "p0"]
    now[0] += 31
    got = order_approvals(approvals(1, 2), Preferences(sort="price"), board, random.Random(1))
    assert ids(got) == ["p0", "p1"]


def test_order_and_allow_fallbacks() -> None:
    prefs = Preferences(order=("p2",), sort="price")
    assert ids(order_approvals(approvals(1, 2, 3), prefs, HealthBoard(), random.Random(1))) == [
        "p2",
        "p0",
        "p1",
    ]
    strict = Preferences(order=("p2",), allow_fallbacks=False)
    assert ids(order_approvals(approvals(1, 2, 3), strict, HealthBoard(), random.Random(1))) == [
        "p2"
    ]


def test_sort_latency_uses_measured_latency() -> None:
    board = HealthBoard()
    board.record_success("p0/m", 0.5)
    board.record_success("p1/m", 0.1)
    got = order_approvals(approvals(1, 2), Preferences(sort="latency"), board, random.Random(1))
    assert ids(got) == ["p1", "p0"]
