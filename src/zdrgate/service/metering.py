"""The usage row of one request, and its limits: :class:`Metering` builds the row from
metadata only (never content) and holds the request's rate-limit and budget
reservations until that row settles them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from zdrgate.accounts.keys import Principal, reconfirmed
from zdrgate.accounts.usage import UsageRecorder
from zdrgate.accounts.usage_event import UsageEvent
from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.errors import GatewayError, LimitStoreUnavailable, ServiceUnavailable
from zdrgate.limits import NO_DEMAND, NO_TICKET, Limiter
from zdrgate.policy import Approval
from zdrgate.protocols.common import JSON
from zdrgate.routing import HealthBoard
from zdrgate.service.attempt import Attempts
from zdrgate.service.served import Served


class Services(Protocol):
    """What metering uses of the gateway."""

    catalog: Catalog
    usage: UsageRecorder
    limiter: Limiter
    health: HealthBoard


UNKNOWN_MODEL = "unknown"
_ADMISSIONS = 3  # a principal whose rights change during as many admissions gets 503


class Metering:
    """Builds the one usage row of a request from metadata (never content), and
    holds its rate-limit and budget reservations until that row settles them."""

    def __init__(
        self, gateway: Services, principal: Principal, route: str, model: str, stream: bool
    ) -> None:
        self.gateway = gateway
        self.principal = principal
        self.route = route
        # A usage row names a catalog model or none: the requested id may be any string
        # when a `models` fallback is what the catalog knows.
        self.model = model if model in gateway.catalog.models else UNKNOWN_MODEL
        self.stream = stream
        self.attempts = Attempts()
        self.started = time.perf_counter()
        self.demand = NO_DEMAND  # set by the route's service call: what it may consume
        self.ticket = NO_TICKET
        self.replan: Callable[[Principal], tuple[Approval, ...]] | None = None
        """The request's approvals for another principal (set by the service call)."""

    async def admit(self, approvals: tuple[Approval, ...]) -> tuple[Approval, ...]:
        """Before any upstream call: raises RateLimited, BudgetExceeded (402) or
        LimitStoreUnavailable (503); else reserves the request's maximum. The caller's
        key or session is confirmed with the revocation epoch the admission read
        (401 if it was revoked meanwhile); if its rights changed, the request is
        planned again under them. Returns the approvals to try."""
        if self.gateway.usage.backlogged:  # fail closed: a served request must be metered
            raise LimitStoreUnavailable(
                "The usage database is unavailable; requests are refused until usage can "
                "be recorded again.",
                code="usage_store_unavailable",
            )
        for _ in range(_ADMISSIONS):
            endpoints = [approval.endpoint for approval in approvals]
            self.ticket = await self.gateway.limiter.admit(self.principal, self.demand, endpoints)
            try:
                now = await reconfirmed(self.principal, self.ticket.epoch)
            except BaseException:
                self.release()
                raise
            if now == self.principal:  # (re-read under the new epoch) the same rights
                self.principal = now
                return approvals
            self.release()
            self.principal = now
            if self.replan is None:
                break
            approvals = self.replan(now)
        raise ServiceUnavailable("The API key's settings kept changing; send the request again.")

    def release(self) -> None:
        """Give the reservations back (no usage); a no-op once a row settled them."""
        self.ticket.settle(0, 0.0)

    def served(self, approval: Approval) -> Served:
        """The receipt headers, with the caller's x-ratelimit-* when it has limits."""
        return Served.of(approval).with_limits(self.ticket)

    def succeeded(
        self, endpoint: Endpoint, prompt: int, completion: int, *, images: int = 0
    ) -> None:
        cost = cost_of(endpoint, prompt, completion) + images * (endpoint.image_price or 0.0)
        self._record(endpoint, 200, None, self.attempts.count + 1, prompt, completion, cost, images)
        self._throughput(endpoint, completion)

    def failed(self, error: GatewayError, endpoint: Endpoint | None = None) -> None:
        self._record(endpoint, error.status, error.code, self.attempts.count, 0, 0, 0.0)

    def ended(
        self,
        endpoint: Endpoint | None,
        usage: JSON | None,
        outcome: str | None,
        status: int,
        first_chunk_at: float | None = None,
    ) -> None:
        """A stream's row: tokens as far as the upstream reported them."""
        prompt, completion = token_counts(usage)
        cost = cost_of(endpoint, prompt, completion) if endpoint else 0.0
        tries = self.attempts.count + (1 if endpoint and outcome is None else 0)
        ttft = None if first_chunk_at is None else first_chunk_at - self.started
        self._record(endpoint, status, outcome, tries, prompt, completion, cost, ttft_seconds=ttft)
        if endpoint is not None and outcome is None:
            self._throughput(endpoint, completion)

    def _throughput(self, endpoint: Endpoint, completion_tokens: int) -> None:
        """Feeds ``provider.sort = "throughput"`` (tokens per second, whole request)."""
        elapsed = time.perf_counter() - self.started
        self.gateway.health.record_throughput(endpoint.id, completion_tokens, elapsed)

    def _record(
        self,
        endpoint: Endpoint | None,
        status: int,
        error_kind: str | None,
        attempts: int,
        prompt: int,
        completion: int,
        cost: float,
        images: int = 0,
        ttft_seconds: float | None = None,
    ) -> None:
        self.ticket.settle(prompt + completion, cost)
        self.gateway.usage.record(
            UsageEvent(
                key_id=self.principal.key_id,
                started_at=time.time(),
                route=self.route,
                model=endpoint.model_id if endpoint else self.model,
                endpoint=endpoint.id if endpoint else None,
                status=status,
                error_kind=error_kind,
                stream=self.stream,
                attempts=attempts,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=cost,
                latency_ms=(time.perf_counter() - self.started) * 1000,
                account_id=self.principal.account_id,
                team_id=self.principal.team_id,
                images=images,
            ),
            ttft_seconds,
        )


def token_counts(usage: dict[str, Any] | None) -> tuple[int, int]:
    if not usage:
        return 0, 0
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return (
        prompt if isinstance(prompt, int) else 0,
        completion if isinstance(completion, int) else 0,
    )


def cost_of(endpoint: Endpoint, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * (endpoint.prompt_price or 0.0)
        + completion_tokens * (endpoint.completion_price or 0.0)
    ) / 1_000_000
