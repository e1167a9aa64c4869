"""Rate limits and budgets of a request: admit before any upstream call, settle after.

Usage::

    limiter = Limiter(MemoryCounters())
    ticket = await limiter.admit(principal, Demand(prompt_tokens=120, max_tokens=256),
                                 approved_endpoints)      # raises RateLimited, BudgetExceeded
    ...                                                   # the upstream call
    ticket.settle(tokens=301, cost=0.0004)                # actual usage (0, 0.0 on failure)

A principal without limits (the master key, a key with none set) costs nothing
here on one instance: :meth:`Limiter.admit` returns :data:`NO_TICKET` without
touching a counter. On counters that carry the revocation epoch (Redis), a key or
session without limits still makes the one round trip, which reads the epoch for
its recheck (``Ticket.epoch``, ``accounts.keys.reconfirmed``).

Budgets reserve the request's maximum cost, the most expensive approved endpoint's
prices times (prompt estimate + max tokens, else all the output the endpoint can
give: :func:`max_output`), and refuse once what is spent plus what is reserved
reaches the budget. So concurrent requests overspend a budget by at most one
request's maximum cost. Token limits reserve an estimate of tokens (max tokens, else
DEFAULT_MAX_TOKENS); settling replaces the estimate with the actual count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from zdrgate.accounts.keys import NO_LIMITS, Principal
from zdrgate.catalog.model import Endpoint
from zdrgate.errors import BudgetExceeded, LimitStoreUnavailable, RateLimited
from zdrgate.limits import levels
from zdrgate.limits.counters import (
    BudgetCheck,
    Counters,
    RateCheck,
    RateState,
    Settlement,
    StoreUnavailable,
    Verdict,
)
from zdrgate.limits.headers import rate_headers
from zdrgate.protocols import endpoint_spec

DEFAULT_MAX_TOKENS = 4096
"""Output tokens a request without ``max_tokens`` reserves on a token limit (an
estimate: settling replaces it with the actual count)."""
UNSTATED_MAX_OUTPUT = 131_072
"""Output tokens a budget reserves for a request without ``max_tokens`` on an
endpoint whose catalog entry states neither its maximum output nor its context."""
_DAY_TTL = 2 * 86400
_MONTH_TTL = 32 * 86400


@dataclass(frozen=True, slots=True)
class Demand:
    """What a request may consume, estimated before it is sent (no content)."""

    prompt_tokens: int = 0
    max_tokens: int | None = None
    """Output cap of the whole request (all its choices); None: the request states none,
    so a budget reserves the endpoint's maximum output per choice. 0 for embeddings."""
    images: int = 0
    choices: int = 1
    """Completions asked for (``n``): what an endpoint's maximum output is multiplied by."""

    @classmethod
    def of_body(
        cls, body_bytes: int, max_tokens: int | None = None, images: int = 0, choices: int = 1
    ) -> Demand:
        # About 4 bytes of JSON per token: generous for English, close for code.
        return cls(body_bytes // 4 + 1, max_tokens, images, choices)


NO_DEMAND = Demand()


class Ticket:
    """A request's reservations, settled once with its actual usage."""

    __slots__ = ("_counters", "_headers", "_rates", "_states", "budgets", "epoch", "tokens", "usd")

    def __init__(
        self,
        counters: Counters | None,
        rates: tuple[RateCheck, ...],
        budgets: tuple[BudgetCheck, ...],
        states: tuple[RateState, ...],
        tokens: float,
        usd: float,
        epoch: Hashable = None,
    ) -> None:
        self._counters = counters
        self._rates = rates
        self._states = states
        self.budgets = budgets
        self.tokens = tokens  # reserved on every token bucket
        self.usd = usd  # reserved on every budget
        self.epoch = epoch  # the revocation epoch read at admission; None: not read
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        """x-ratelimit-* for the response (made on first use)."""
        if self._headers is None:
            self._headers = rate_headers(self._rates, self._states)
        return self._headers

    def settle(self, tokens: int, cost: float) -> None:
        """Replace the reservations by the actual usage; later calls do nothing."""
        counters, self._counters = self._counters, None
        if counters is None:
            return
        extra = tokens - self.tokens
        counters.settle(
            Settlement(
                tuple((r.key, r.limit, extra) for r in self._rates if r.tokens),
                tuple((b.key, cost - self.usd) for b in self.budgets),
            )
        )


NO_TICKET = Ticket(None, (), (), (), 0, 0.0)
_Checks = tuple[tuple[RateCheck, ...], tuple[BudgetCheck, ...]]
_CACHE_MAX = 10_000


Spent = Callable[[str, str, dt.datetime], float]
"""(scope "key" | "account" | "team", its id, since) -> USD spent: see limits.spent."""


class Limiter:
    def __init__(
        self,
        counters: Counters,
        clock: Callable[[], float] = time.time,
        spent: Spent | None = None,
    ) -> None:
        self.counters = counters
        self._epoch_trips = counters.carries_epoch  # admission reads the epoch (Redis)
        self._clock = clock
        self._spent = spent  # seeds budget counters from the usage rows
        self._day = ""  # "YYYYMMDD" (UTC) the cached checks were made for
        self._day_ends = 0.0
        self._checks: dict[tuple[object, ...], _Checks | None] = {}
        self._refusals = levels.empty_refusals()  # (scope, window) -> 402s, for /metrics

    async def admit(
        self, principal: Principal, demand: Demand, endpoints: Iterable[Endpoint]
    ) -> Ticket:
        p = principal
        none = NO_LIMITS
        if p.key_limits is none and p.account_limits is none and p.team_limits is none:
            if p.recheck is None or not self._epoch_trips:
                return NO_TICKET  # the master key; or one instance: nothing to count
            return await self._epoch_only()  # a key without limits, on Redis
        now = self._clock()
        if now >= self._day_ends:
            self._new_day(now)
        scope = (p.key_id, p.account_id, p.team_id, p.key_limits, p.account_limits, p.team_limits)
        checks = self._checks.get(scope, _MISSING)
        if checks is _MISSING:
            checks = await self._compile(p, scope)
        if checks is None:
            return await self._epoch_only() if p.recheck and self._epoch_trips else NO_TICKET
        rates, budgets = checks
        cap = DEFAULT_MAX_TOKENS if demand.max_tokens is None else demand.max_tokens
        endpoints = tuple(endpoints)
        tokens = demand.prompt_tokens * max_calls(demand, endpoints) + cap
        usd = max_cost(demand, endpoints) if budgets else 0.0
        verdict = await self._admit(rates, budgets, tokens, usd)
        if verdict.refused >= 0:
            if verdict.refused >= len(rates):
                self._count_refusal(budgets[verdict.refused - len(rates)].key)
            raise _refusal(verdict, rates, budgets, rate_headers(rates, verdict.rates))
        return Ticket(self.counters, rates, budgets, verdict.rates, tokens, usd, verdict.epoch)

    async def _epoch_only(self) -> Ticket:
        """Nothing to count, but the counters carry the revocation epoch and the
        principal can be rechecked: the round trip still reads the epoch."""
        verdict = await self._admit((), (), 0, 0.0)  # also sends queued settlements
        return Ticket(None, (), (), (), 0, 0.0, verdict.epoch)

    async def _admit(
        self,
        rates: tuple[RateCheck, ...],
        budgets: tuple[BudgetCheck, ...],
        tokens: float,
        usd: float,
    ) -> Verdict:
        try:
            return await self.counters.admit(rates, budgets, tokens, usd)
        except StoreUnavailable as exc:
            raise LimitStoreUnavailable(
                f"The rate limit store is unavailable ({exc}); the request was not sent."
            ) from None

    def _count_refusal(self, budget_key: str) -> None:
        pair = levels.scope_of(budget_key)
        if pair is not None:
            self._refusals[pair] += 1

    async def budget_levels(self) -> levels.BudgetLevels:
        """What is left of the budgets checked today, by scope and window (/metrics).
        Raises StoreUnavailable when the counters cannot be read."""
        limits = {
            check.key: check.limit
            for checks in list(self._checks.values())
            if checks is not None
            for check in checks[1]
        }
        return await levels.measure(self.counters, limits, self._refusals)

    def _new_day(self, now: float) -> None:
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        self._day = moment.strftime("%Y%m%d")
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        self._day_ends = (midnight + dt.timedelta(days=1)).timestamp()
        self._checks.clear()  # their budget counters are named by the day

    async def _compile(self, p: Principal, scope_key: tuple[object, ...]) -> _Checks | None:
        """The checks of a principal's scopes (cached: the same every request today),
        budgets seeded with what the usage rows say was spent in their window."""
        rates: list[RateCheck] = []
        budgets: list[BudgetCheck] = []
        for name, scope_id, limits in (
            ("key", p.key_id, p.key_limits),
            ("account", p.account_id, p.account_limits),
            ("team", p.team_id, p.team_limits),
        ):
            if scope_id is None:
                continue
            scope = f"{name}:{scope_id}"
            if limits.rpm is not None:
                rates.append(RateCheck(f"r:{scope}", limits.rpm, False))
            if limits.tpm is not None:
                rates.append(RateCheck(f"t:{scope}", limits.tpm, True))
            if limits.budget_day_usd is not None:
                key = f"d:{self._day}:{scope}"
                budgets.append(BudgetCheck(key, limits.budget_day_usd, _DAY_TTL))
            if limits.budget_month_usd is not None:
                key = f"m:{self._day[:6]}:{scope}"
                budgets.append(BudgetCheck(key, limits.budget_month_usd, _MONTH_TTL))
        if budgets and self._spent is not None:
            budgets = await self._seeded(budgets)
        checks = (tuple(rates), tuple(budgets)) if rates or budgets else None
        if len(self._checks) >= _CACHE_MAX:
            self._checks.clear()
        self._checks[scope_key] = checks
        return checks

    async def _seeded(self, budgets: list[BudgetCheck]) -> list[BudgetCheck]:
        spent = self._spent
        assert spent is not None
        day = dt.datetime.strptime(self._day, "%Y%m%d").replace(tzinfo=dt.UTC)
        starts = {"d": day, "m": day.replace(day=1)}

        def read() -> list[BudgetCheck]:
            seeded = []
            for check in budgets:
                window, _, scope, scope_id = check.key.split(":", 3)
                usd = spent(scope, scope_id, starts[window])
                seeded.append(BudgetCheck(check.key, check.limit, check.ttl, usd))
            return seeded

        try:
            return await asyncio.to_thread(read)
        except Exception as exc:  # the database is away: refuse rather than forget
            raise LimitStoreUnavailable(
                f"The usage database is unavailable ({type(exc).__name__}); budgets cannot "
                "be checked and the request was not sent.",
                code="usage_store_unavailable",
            ) from None


_MISSING: _Checks | None = ((), ())  # a distinct object: "not compiled yet"


def max_calls(demand: Demand, endpoints: Iterable[Endpoint]) -> int:
    """Upstream calls the request makes at most, each sending its prompt: ``n`` where
    ``n`` choices are n calls (a protocol that answers one choice per call), else 1."""
    if demand.choices <= 1:
        return 1
    one = any(endpoint_spec(e).one_choice_per_call for e in endpoints)
    return demand.choices if one else 1


def max_cost(demand: Demand, endpoints: Iterable[Endpoint]) -> float:
    """USD the request can cost at most on the most expensive of ``endpoints``: its
    prompt estimate (once per call: n times where ``n`` choices are n calls) plus its
    output cap, else as many output tokens as the endpoint can produce per choice, at
    the endpoint's prices; plus its images at the image price."""
    most = 0.0
    for endpoint in endpoints:
        out = demand.max_tokens
        if out is None:
            out = max_output(endpoint) * demand.choices
        calls = max_calls(demand, (endpoint,))
        cost = (
            demand.prompt_tokens * calls * (endpoint.prompt_price or 0.0)
            + out * (endpoint.completion_price or 0.0)
        ) / 1_000_000 + demand.images * (endpoint.image_price or 0.0)
        most = max(most, cost)
    return most


def max_output(endpoint: Endpoint) -> int:
    """Most output tokens one choice can have on ``endpoint``: its stated maximum, else
    its whole context window (the output can never be longer; the prompt estimate is
    not subtracted, since it may exceed the real prompt), else UNSTATED_MAX_OUTPUT."""
    return endpoint.max_output_tokens or endpoint.context_length or UNSTATED_MAX_OUTPUT


def _refusal(
    verdict: Verdict,
    rates: tuple[RateCheck, ...],
    budgets: tuple[BudgetCheck, ...],
    headers: dict[str, str],
) -> RateLimited | BudgetExceeded:
    if verdict.refused < len(rates):
        check = rates[verdict.refused]
        kind, scope = check.key.split(":", 2)[:2]
        what = ("request" if kind == "r" else "token") + ("" if check.limit == 1 else "s")
        wait = max(int(verdict.retry_after + 0.999), 1)
        message = (
            f"Rate limit reached for this {scope}: {check.limit} {what} per minute. "
            f"Try again in {wait}s."
        )
        return RateLimited(message, headers={**headers, "retry-after": str(wait)})
    budget = budgets[verdict.refused - len(rates)]
    period, _, scope = budget.key.split(":", 3)[:3]
    span, resets = ("daily", "at 00:00 UTC") if period == "d" else ("monthly", "on the 1st (UTC)")
    return BudgetExceeded(
        f"The {span} budget of this {scope} (${budget.limit:.2f}) is spent; "
        f"it resets {resets}. Nothing was sent upstream.",
    )
