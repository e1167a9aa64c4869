"""Rate limits and budgets of a request: admit before any upstream call, settle after.

Usage::

    limiter = Limiter(MemoryCounters())
    ticket = await limiter.admit(principal, Demand(prompt_tokens=120, max_tokens=256),
                                 approved_endpoints)      # raises RateLimited, BudgetExceeded
    ...                                                   # the upstream call
    ticket.settle(tokens=301, cost=0.0004)                # actual usage (0, 0.0 on failure)

A principal without limits (the master key, a key with none set) costs nothing
here: :meth:`Limiter.admit` returns :data:`NO_TICKET` without touching a counter.

Budgets reserve the request's maximum cost, the most expensive approved endpoint's
prices times (prompt estimate + max tokens), and refuse once what is spent plus
what is reserved reaches the budget. So concurrent requests overspend a budget by
at most one request's maximum cost. Token limits reserve the same estimate of
tokens; settling replaces the estimate with the actual count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from zdrgate.accounts.keys import Limits, Principal
from zdrgate.catalog.model import Endpoint
from zdrgate.errors import BudgetExceeded, LimitStoreUnavailable, RateLimited
from zdrgate.limits.counters import (
    BudgetCheck,
    Counters,
    RateCheck,
    Settlement,
    StoreUnavailable,
    Verdict,
)
from zdrgate.limits.headers import rate_headers

DEFAULT_MAX_TOKENS = 4096
"""Output cap assumed when neither the request nor the endpoint states one."""
_DAY_TTL = 2 * 86400
_MONTH_TTL = 32 * 86400


@dataclass(frozen=True, slots=True)
class Demand:
    """What a request may consume, estimated before it is sent (no content)."""

    prompt_tokens: int = 0
    max_tokens: int | None = None
    """Output cap; None: the endpoint's, else DEFAULT_MAX_TOKENS. 0 for embeddings."""
    images: int = 0

    @classmethod
    def of_body(cls, body_bytes: int, max_tokens: int | None = None, images: int = 0) -> Demand:
        # About 4 bytes of JSON per token: generous for English, close for code.
        return cls(body_bytes // 4 + 1, max_tokens, images)


NO_DEMAND = Demand()


@dataclass(frozen=True, slots=True)
class _Scope:
    name: str  # "key", "account", "team": named in refusals
    id: str
    limits: Limits


class Ticket:
    """A request's reservations, settled once with its actual usage."""

    __slots__ = ("_budgets", "_counters", "_rates", "headers")

    def __init__(
        self,
        counters: Counters | None,
        rates: tuple[tuple[str, int, float], ...],
        budgets: tuple[tuple[str, float], ...],
        headers: dict[str, str],
    ) -> None:
        self._counters = counters
        self._rates = rates  # (token counter, limit, tokens reserved)
        self._budgets = budgets  # (budget counter, USD reserved)
        self.headers = headers  # x-ratelimit-* for the response

    def settle(self, tokens: int, cost: float) -> None:
        """Replace the reservations by the actual usage; later calls do nothing."""
        counters, self._counters = self._counters, None
        if counters is None or not (self._rates or self._budgets):
            return
        counters.settle(
            Settlement(
                tuple((key, limit, tokens - held) for key, limit, held in self._rates),
                tuple((key, cost - held) for key, held in self._budgets),
            )
        )


NO_TICKET = Ticket(None, (), (), {})


class Limiter:
    def __init__(self, counters: Counters, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self._clock = clock

    async def admit(
        self, principal: Principal, demand: Demand, endpoints: Iterable[Endpoint]
    ) -> Ticket:
        scopes = _scopes(principal)
        if not scopes:
            return NO_TICKET
        cap = DEFAULT_MAX_TOKENS if demand.max_tokens is None else demand.max_tokens
        tokens = demand.prompt_tokens + cap
        rates = _rate_checks(scopes, tokens)
        budgets = _budget_checks(scopes, max_cost(demand, endpoints), self._clock())
        try:
            verdict = await self.counters.admit(rates, budgets)
        except StoreUnavailable as exc:
            raise LimitStoreUnavailable(
                f"The rate limit store is unavailable ({exc}); the request was not sent."
            ) from None
        headers = rate_headers(rates, verdict.rates)
        if verdict.refused >= 0:
            raise _refusal(verdict, rates, budgets, scopes, headers)
        held = tuple((r.key, r.limit, r.cost) for r in rates if r.key[0] == "t")
        return Ticket(self.counters, held, tuple((b.key, b.reserve) for b in budgets), headers)


def _scopes(principal: Principal) -> list[_Scope]:
    scopes = []
    if principal.key_limits != _NONE:
        scopes.append(_Scope("key", principal.key_id, principal.key_limits))
    if principal.account_id is not None and principal.account_limits != _NONE:
        scopes.append(_Scope("account", principal.account_id, principal.account_limits))
    if principal.team_id is not None and principal.team_limits != _NONE:
        scopes.append(_Scope("team", principal.team_id, principal.team_limits))
    return scopes


_NONE = Limits()


def _rate_checks(scopes: list[_Scope], tokens: int) -> tuple[RateCheck, ...]:
    checks = []
    for scope in scopes:
        if scope.limits.rpm is not None:
            checks.append(RateCheck(f"r:{scope.name}:{scope.id}", scope.limits.rpm, 1))
        if scope.limits.tpm is not None:
            checks.append(RateCheck(f"t:{scope.name}:{scope.id}", scope.limits.tpm, tokens))
    return tuple(checks)


def _budget_checks(scopes: list[_Scope], cost: float, now: float) -> tuple[BudgetCheck, ...]:
    checks = []
    day = time.strftime("%Y%m%d", time.gmtime(now))
    for scope in scopes:
        limits = scope.limits
        if limits.budget_day_usd is not None:
            key = f"d:{day}:{scope.name}:{scope.id}"
            checks.append(BudgetCheck(key, limits.budget_day_usd, cost, _DAY_TTL))
        if limits.budget_month_usd is not None:
            key = f"m:{day[:6]}:{scope.name}:{scope.id}"
            checks.append(BudgetCheck(key, limits.budget_month_usd, cost, _MONTH_TTL))
    return tuple(checks)


def max_cost(demand: Demand, endpoints: Iterable[Endpoint]) -> float:
    """USD the request can cost at most on the most expensive of ``endpoints``."""
    most = 0.0
    for endpoint in endpoints:
        out = demand.max_tokens
        if out is None:
            out = endpoint.max_output_tokens or DEFAULT_MAX_TOKENS
        cost = (
            demand.prompt_tokens * (endpoint.prompt_price or 0.0)
            + out * (endpoint.completion_price or 0.0)
        ) / 1_000_000 + demand.images * (endpoint.image_price or 0.0)
        most = max(most, cost)
    return most


def _refusal(
    verdict: Verdict,
    rates: tuple[RateCheck, ...],
    budgets: tuple[BudgetCheck, ...],
    scopes: list[_Scope],
    headers: dict[str, str],
) -> RateLimited | BudgetExceeded:
    if verdict.refused < len(rates):
        check = rates[verdict.refused]
        kind, scope = check.key.split(":", 2)[:2]
        what = "requests" if kind == "r" else "tokens"
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
