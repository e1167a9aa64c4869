"""Rate limits, budgets and failed-authentication limits: the same tests on the
in-memory counters and on the real Redis of this machine (a random key prefix)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from conftest import REDIS_URL
from zdrgate.accounts.keys import Limits, Principal
from zdrgate.catalog.model import Endpoint, PolicyRecord, Protocol, Provider
from zdrgate.errors import BudgetExceeded, LimitStoreUnavailable, RateLimited
from zdrgate.limits import NO_TICKET, CounterAuthFailures, Demand, Limiter, MemoryCounters
from zdrgate.limits.counters import BudgetCheck, Counters, Settlement
from zdrgate.limits.demand import chat_demand, image_demand
from zdrgate.limits.headers import duration
from zdrgate.limits.limiter import UNSTATED_MAX_OUTPUT, max_cost
from zdrgate.limits.redis_counters import RedisCounters
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.images import ImageRequest

pytestmark = pytest.mark.services


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        yield MemoryCounters()
        return
    prefix = request.getfixturevalue("redis_prefix")
    store = RedisCounters(redis.asyncio.Redis.from_url(REDIS_URL), prefix=prefix)
    yield store
    await store.close()


def key(rpm: int | None = None, tpm: int | None = None, day: float | None = None) -> Principal:
    return Principal("k1", False, key_limits=Limits(rpm=rpm, tpm=tpm, budget_day_usd=day))


async def test_the_fourth_request_in_a_minute_is_refused_with_retry_after(
    counters: Counters,
) -> None:
    limiter = Limiter(counters)
    remaining = []
    for _ in range(3):
        ticket = await limiter.admit(key(rpm=3), Demand(), ())
        remaining.append(ticket.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    with pytest.raises(RateLimited) as caught:
        await limiter.admit(key(rpm=3), Demand(), ())
    headers = caught.value.headers
    assert 1 <= int(headers["retry-after"]) <= 20
    assert headers["x-ratelimit-limit-requests"] == "3"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert "3 requests per minute" in caught.value.message and "key" in caught.value.message


async def test_a_refusal_takes_nothing_from_the_other_scopes(counters: Counters) -> None:
    both = Principal(
        "k2", False, account_id="a1", key_limits=Limits(rpm=10), account_limits=Limits(rpm=2)
    )
    limiter = Limiter(counters)
    for _ in range(2):
        await limiter.admit(both, Demand(), ())
    for _ in range(3):
        with pytest.raises(RateLimited, match="this account"):
            await limiter.admit(both, Demand(), ())
    alone = Principal("k2", False, key_limits=Limits(rpm=10))
    ticket = await limiter.admit(alone, Demand(), ())
    assert ticket.headers["x-ratelimit-remaining-requests"] == "7"  # 10 - 2 - this one


async def test_tokens_reserve_the_estimate_and_settle_the_actual(counters: Counters) -> None:
    limiter = Limiter(counters)
    demand = Demand(prompt_tokens=100, max_tokens=500)  # 600 reserved
    first = await limiter.admit(key(tpm=1000), demand, ())
    assert first.headers["x-ratelimit-remaining-tokens"] == "400"
    with pytest.raises(RateLimited, match="1000 tokens per minute"):
        await limiter.admit(key(tpm=1000), demand, ())
    first.settle(tokens=120, cost=0.0)  # 480 given back
    first.settle(tokens=0, cost=0.0)  # a second settlement does nothing
    second = await limiter.admit(key(tpm=1000), demand, ())
    assert second.headers["x-ratelimit-remaining-tokens"] == "280"  # 1000 - 120 - 600


async def test_a_budget_refuses_once_spent_plus_reserved_reaches_it(counters: Counters) -> None:
    checks = (BudgetCheck("d:1:key:k1", limit=1.0, ttl=60),)
    verdicts = [await counters.admit((), checks, 0, usd=0.3) for _ in range(5)]
    assert [v.refused for v in verdicts] == [-1, -1, -1, -1, 0]  # 0, .3, .6, .9 < 1.0
    counters.settle(Settlement((), (("d:1:key:k1", -0.3),)))
    await counters.flush()
    assert (await counters.admit((), checks, 0, usd=0.3)).refused == -1


async def test_budget_refusal_names_the_scope_and_the_period(counters: Counters) -> None:
    principal = Principal("k3", False, team_id="t1", team_limits=Limits(budget_month_usd=0.001))
    limiter = Limiter(counters)
    ticket = await limiter.admit(principal, Demand(10, 10), (ENDPOINT,))
    ticket.settle(tokens=20, cost=0.002)
    await counters.flush()
    with pytest.raises(BudgetExceeded) as caught:
        await limiter.admit(principal, Demand(10, 10), (ENDPOINT,))
    assert caught.value.status == 402 and caught.value.code == "budget_exceeded"
    assert "monthly budget of this team" in caught.value.message


def endpoint(prompt: float = 1.0, completion: float = 2.0, image: float = 0.0) -> Endpoint:
    record = PolicyRecord(0, False, "default", ("https://example.invalid",), None, "high")
    provider = Provider("p", "P", "openai", "http://127.0.0.1:9/v1", "", record)
    return Endpoint(
        "a/b",
        provider,
        "b",
        record,
        prompt_price=prompt,
        completion_price=completion,
        image_price=image,
    )


ENDPOINT = endpoint()


def test_max_cost_is_the_most_expensive_endpoint_at_the_output_cap() -> None:
    cheap, dear = endpoint(1.0, 2.0), endpoint(3.0, 15.0)
    assert max_cost(Demand(1000, 100), (cheap, dear)) == pytest.approx((3000 + 1500) / 1e6)
    capped = Endpoint(**{**_fields(dear), "max_output_tokens": 10})
    assert max_cost(Demand(0, None), (capped,)) == pytest.approx(150 / 1e6)
    assert max_cost(Demand(0, None, images=2), (endpoint(0, 0, 0.04),)) == pytest.approx(0.08)


def test_without_max_tokens_a_request_reserves_all_its_endpoint_can_answer() -> None:
    dear = endpoint(3.0, 15.0)
    stated = Endpoint(**{**_fields(dear), "max_output_tokens": 64_000, "context_length": 200_000})
    assert max_cost(Demand(0, None), (stated,)) == pytest.approx(64_000 * 15 / 1e6)
    window = Endpoint(**{**_fields(dear), "context_length": 32_000})
    assert max_cost(Demand(1000, None), (window,)) == pytest.approx((3000 + 32_000 * 15) / 1e6)
    assert max_cost(Demand(0, None, choices=3), (window,)) == pytest.approx(3 * 32_000 * 15 / 1e6)
    unstated = UNSTATED_MAX_OUTPUT * 15 / 1e6
    assert max_cost(Demand(0, None), (dear,)) == pytest.approx(unstated)
    assert max_cost(Demand(0, 500, choices=3), (window,)) == pytest.approx(500 * 15 / 1e6)


MESSAGES = [{"role": "user", "content": "hi"}]


def test_images_reserve_their_price_or_their_output_tokens_per_image() -> None:
    demand = image_demand(400, ImageRequest.model_validate({"model": "a/b", "prompt": "x", "n": 3}))
    assert demand.images == 3 and demand.choices == 3 and demand.max_tokens is None
    per_image = endpoint(0.0, 0.0, 0.04)  # dall-e: a price per image, no token prices
    assert max_cost(demand, (per_image,)) == pytest.approx(3 * 0.04)
    tokens = Endpoint(**{**_fields(endpoint(5.0, 30.0)), "max_output_tokens": 8192})
    assert max_cost(demand, (tokens,)) == pytest.approx((101 * 5 + 3 * 8192 * 30) / 1e6)


def test_a_chat_demand_counts_its_choices() -> None:
    chat = ChatRequest.model_validate({"model": "a/b", "messages": MESSAGES, "n": 4})
    assert chat_demand(400, chat) == Demand(101, None, choices=4)
    capped = ChatRequest.model_validate(
        {"model": "a/b", "messages": MESSAGES, "n": 4, "max_tokens": 9}
    )
    assert chat_demand(400, capped) == Demand(101, 36, choices=4)


def _fields(e: Endpoint) -> dict[str, object]:
    return {name: getattr(e, name) for name in e.__dataclass_fields__}


async def test_a_principal_without_limits_touches_no_counter() -> None:
    counters = MemoryCounters()
    ticket = await Limiter(counters).admit(Principal("master", True), Demand(10**9), ())
    assert ticket is NO_TICKET and ticket.headers == {}
    assert not counters._tats and not counters._used


async def test_parallel_requests_overspend_a_budget_by_at_most_one(counters: Counters) -> None:
    """100 requests at once against a budget with room for 10: at most one too many."""
    limiter = Limiter(counters)
    demand = Demand(prompt_tokens=100, max_tokens=100)
    reserve = max_cost(demand, (ENDPOINT,))  # 300e-6 USD at most
    actual = 200e-6  # what each request really costs
    budget = 10 * actual
    principal = key(day=budget)
    served = 0

    async def one() -> None:
        nonlocal served
        try:
            ticket = await limiter.admit(principal, demand, (ENDPOINT,))
        except BudgetExceeded:
            return
        await asyncio.sleep(0.001)  # the upstream call
        served += 1
        ticket.settle(tokens=150, cost=actual)

    for _ in range(3):  # waves: later ones see settled costs
        await asyncio.gather(*(one() for _ in range(100)))
        await counters.flush()
    spent = served * actual
    assert served >= 7 and spent <= budget + reserve + 1e-12
    day_key = next(iter(await _budget_keys(limiter, principal)))
    assert await counters.used(day_key) == pytest.approx(spent)  # type: ignore[attr-defined]


async def _budget_keys(limiter: Limiter, principal: Principal) -> list[str]:
    checks = await limiter._compile(principal, ("probe",))
    assert checks is not None
    return [c.key for c in checks[1]]


async def test_failed_authentications_block_an_address(counters: Counters) -> None:
    failures = CounterAuthFailures(counters, per_minute=3)
    assert await failures.blocked("10.0.0.1") is None
    for _ in range(2):
        await failures.hit("10.0.0.1")
    assert await failures.blocked("10.0.0.1") is None
    await failures.hit("10.0.0.1")
    wait = await failures.blocked("10.0.0.1")
    assert wait is not None and 0 < wait <= 20
    assert await failures.blocked("10.0.0.2") is None


async def test_an_unreachable_redis_refuses_instead_of_letting_through() -> None:
    dead = RedisCounters(
        redis.asyncio.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=1)
    )
    with pytest.raises(LimitStoreUnavailable) as caught:
        await Limiter(dead).admit(key(rpm=5), Demand(), ())
    assert caught.value.status == 503
    assert "rate limit store is unavailable" in caught.value.message
    with pytest.raises(LimitStoreUnavailable):
        await CounterAuthFailures(dead).hit("10.0.0.1")
    await dead.close()


async def test_a_queued_settlement_travels_with_the_next_call(redis_prefix: str) -> None:
    """On Redis, settling costs no round trip of its own: it is queued for the next."""
    live = RedisCounters(redis.asyncio.Redis.from_url(REDIS_URL), prefix=redis_prefix)
    check = BudgetCheck("d:1:key:k9", limit=1.0, ttl=60)
    await live.admit((), (check,), 0, usd=0.5)
    live.settle(Settlement((), (("d:1:key:k9", -0.4),)))
    assert await live.used("d:1:key:k9") == pytest.approx(0.5)  # not sent yet
    await live.admit((), (), 0, 0.0)
    assert await live.used("d:1:key:k9") == pytest.approx(0.1)
    await live.close()


def test_durations_are_written_as_openai_writes_them() -> None:
    assert [duration(s) for s in (0, 0.02, 1, 1.5, 60, 360, 90.25)] == [
        "0s",
        "20ms",
        "1s",
        "1.5s",
        "1m0s",
        "6m0s",
        "1m30.25s",
    ]


async def test_a_new_counter_starts_from_what_the_usage_rows_say_was_spent(
    counters: Counters,
) -> None:
    """A restarted instance (or a Redis that lost its data) does not forget spending."""
    asked = []

    def spent(scope: str, scope_id: str, since: object) -> float:
        asked.append((scope, scope_id))
        return 0.95 if scope == "key" else 0.0

    limiter = Limiter(counters, spent=spent)
    principal = key(day=1.0)
    first = await limiter.admit(principal, Demand(10, 10), (ENDPOINT,))  # 0.95 < 1.0
    first.settle(20, 0.1)
    await counters.flush()
    with pytest.raises(BudgetExceeded):
        await limiter.admit(principal, Demand(10, 10), (ENDPOINT,))
    assert asked == [("key", "k1")]  # once: the checks are cached for the day


async def test_an_unreadable_usage_table_refuses_with_503() -> None:
    def spent(scope: str, scope_id: str, since: object) -> float:
        raise OSError("database away")

    limiter = Limiter(MemoryCounters(), spent=spent)
    with pytest.raises(LimitStoreUnavailable) as caught:
        await limiter.admit(key(day=1.0), Demand(), (ENDPOINT,))
    assert caught.value.status == 503 and caught.value.code == "usage_store_unavailable"


async def test_budget_levels_name_scopes_and_windows_never_ids(counters: Counters) -> None:
    """What /metrics reports of budgets: the lowest fraction left, how many are low or
    spent, and 402s, by scope and window (an id would be an unbounded label)."""
    limiter = Limiter(counters)
    roomy = Principal("k-roomy", False, key_limits=Limits(budget_day_usd=1.0))
    team = Principal("k-team", False, team_id="t-lab", team_limits=Limits(budget_month_usd=0.001))
    (await limiter.admit(roomy, Demand(), ())).settle(0, 0.25)
    (await limiter.admit(team, Demand(), ())).settle(0, 0.001)
    with pytest.raises(BudgetExceeded):
        await limiter.admit(team, Demand(), ())
    await counters.flush()
    levels = await limiter.budget_levels()
    assert levels.lowest == {
        ("key", "day"): pytest.approx(0.75),
        ("team", "month"): pytest.approx(0.0),
    }
    assert levels.counts[("key", "day", "ok")] == 1
    assert levels.counts[("team", "month", "spent")] == 1
    assert sum(levels.counts.values()) == 2 and len(levels.counts) == 18
    assert levels.refusals[("team", "month")] == 1
    assert sum(levels.refusals.values()) == 1
    labels = {part for key in (*levels.counts, *levels.refusals) for part in key}
    assert labels <= {"key", "account", "team", "day", "month", "ok", "low", "spent"}


def test_n_calls_reserve_their_prompt_n_times() -> None:
    """Over a protocol that answers one choice per call, n choices are n calls, each
    billed its prompt; over OpenAI's, one call bills the prompt once."""
    openai_style = endpoint(3.0, 15.0)
    anthropic_provider = dataclasses.replace(openai_style.provider, protocol=Protocol.ANTHROPIC)
    one_choice = dataclasses.replace(openai_style, provider=anthropic_provider)
    demand = Demand(1000, 100, choices=3)
    assert max_cost(demand, (openai_style,)) == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert max_cost(demand, (one_choice,)) == pytest.approx((3 * 1000 * 3 + 100 * 15) / 1e6)


async def test_n_calls_reserve_their_prompt_n_times_against_tokens_per_minute() -> None:
    openai_style = endpoint(3.0, 15.0)
    anthropic_provider = dataclasses.replace(openai_style.provider, protocol=Protocol.ANTHROPIC)
    one_choice = dataclasses.replace(openai_style, provider=anthropic_provider)
    limiter = Limiter(MemoryCounters())
    demand = Demand(1000, 100, choices=3)
    assert (await limiter.admit(key(tpm=10**6), demand, (openai_style,))).tokens == 1100
    assert (await limiter.admit(key(tpm=10**6), demand, (one_choice,))).tokens == 3100
