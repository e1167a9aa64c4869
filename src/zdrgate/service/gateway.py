"""The Gateway: catalog, policy, routing, adapters and dispatch wired together."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from zdrgate.accounts.keys import Principal
from zdrgate.accounts.usage import UsageEvent, UsageRecorder
from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.errors import GatewayError, StorageFeatureRefused
from zdrgate.limits import NO_DEMAND, NO_TICKET, Demand, Limiter, MemoryCounters, Ticket
from zdrgate.policy import Approval, Constraints, PolicyEngine
from zdrgate.protocols import UpstreamCall, spec_for
from zdrgate.protocols.common import JSON
from zdrgate.protocols.errors import StreamProtocolError
from zdrgate.routing import HealthBoard, Preferences
from zdrgate.service.attempt import Attempts, RejectedByUpstream, rejected
from zdrgate.service.plan import Plan, constraints_for, make_plan, model_ids, preferences_for
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.upstream import Dispatcher, UpstreamFailure, UpstreamResponse
from zdrgate.upstream.assets import AssetFetcher
from zdrgate.upstream.dispatch import ERROR_BODY_LIMIT
from zdrgate.wire.chat import ChatRequest

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Served:
    """Which endpoint served a request, for the response headers (the receipt)."""

    endpoint_id: str
    policy_digest: str
    verified_on: str
    origin: str  # where the request went, scheme://host[:port]
    endpoint: Endpoint = field(compare=False, repr=False)  # for the signed receipt
    limits: tuple[tuple[str, str], ...] = ()  # x-ratelimit-* of the caller's limits

    def with_limits(self, ticket: Ticket) -> Served:
        if not ticket.headers:
            return self
        return dataclasses.replace(self, limits=tuple(ticket.headers.items()))

    @classmethod
    def of(cls, approval: Approval) -> Served:
        return _served(approval)

    def headers(self) -> dict[str, str]:
        headers = {
            "x-zdr-endpoint": self.endpoint_id,
            "x-zdr-policy": self.policy_digest,
            "x-zdr-verified-on": self.verified_on,
            "x-zdr-origin": self.origin,
        }
        if self.limits:
            headers.update(self.limits)
        return headers


@lru_cache(maxsize=4096)  # approvals live in the engine's decision cache
def _served(approval: Approval) -> Served:
    verified = approval.endpoint.policy.verified_on
    endpoint = approval.endpoint
    return Served(
        endpoint.id,
        approval.policy_digest,
        verified.isoformat() if verified else "",
        endpoint.origin,
        endpoint,
    )


class Gateway:
    def __init__(
        self,
        catalog: Catalog,
        engine: PolicyEngine,
        dispatcher: Dispatcher,
        usage: UsageRecorder,
        health: HealthBoard,
        rng: random.Random | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        assets: AssetFetcher | None = None,
        limiter: Limiter | None = None,
    ) -> None:
        self.catalog = catalog
        self.engine = engine
        self.dispatcher = dispatcher
        self.usage = usage
        self.health = health
        self.rng = rng or random.Random()  # noqa: S311 - load spreading, not secrets
        self.today = today
        self.assets = assets or AssetFetcher()  # images to inline (see upstream.assets)
        self.limiter = limiter or Limiter(MemoryCounters())  # rate limits and budgets

    def plan(self, request: ChatRequest) -> Plan:
        refuse_storage_features(request)
        models = model_ids(request.model, request.models)
        prefs = preferences_for(request.provider)
        return self.plan_for(models, constraints_for(request), prefs)

    def plan_for(self, models: list[str], constraints: Constraints, prefs: Preferences) -> Plan:
        """The plan of any model-serving request (chat, images, embeddings)."""
        return make_plan(
            models,
            constraints,
            prefs,
            self.catalog,
            self.engine,
            self.health,
            self.rng,
            self.today(),
        )

    async def chat(
        self, request: ChatRequest, principal: Principal, demand: Demand = NO_DEMAND
    ) -> tuple[JSON, Served]:
        """Non-streaming chat: the first approved endpoint that answers serves."""
        plan = self.plan(request)
        meter = Metering(self, principal, "chat.completions", request.model, request.stream)
        meter.demand = demand

        prepared = ProtocolRequests(self.assets, request)

        async def build(endpoint: Endpoint) -> UpstreamCall:
            codec = spec_for(endpoint.provider.protocol).require_chat()
            return codec.build_chat(endpoint, await prepared.for_endpoint(endpoint))

        def parse(endpoint: Endpoint, body: bytes) -> JSON:
            return spec_for(endpoint.provider.protocol).require_chat().parse_chat(endpoint, body)

        result, approval = await self.first_success(plan, build, parse, meter)
        usage = result.get("usage")
        prompt, completion = token_counts(usage if isinstance(usage, dict) else None)
        meter.succeeded(approval.endpoint, prompt, completion)
        return result, meter.served(approval)

    async def first_success(
        self,
        plan: Plan,
        build: Callable[[Endpoint], Awaitable[UpstreamCall]],
        parse: Callable[[Endpoint, bytes], T],
        meter: Metering,
    ) -> tuple[T, Approval]:
        """Try the plan's approvals in order; the first parsed 200 response wins.

        Rate limits and budgets admit the request first (nothing is sent if they
        refuse). Retryable failures move on to the next approved endpoint; a request
        the upstream found invalid ends the request at once.
        """
        await meter.admit(plan)
        try:
            for approval in plan.approvals:
                try:
                    call = await build(approval.endpoint)
                    result = await self.call_json(approval, call, parse)
                except (UpstreamFailure, StreamProtocolError) as exc:
                    meter.attempts.failed(exc.kind)
                    self.health.record_failure(approval.endpoint.id)
                    continue
                except RejectedByUpstream as exc:
                    meter.failed(exc)
                    raise
                return result, approval
        except BaseException:
            meter.release()  # a cancelled or broken request holds no reservation
            raise
        error = meter.attempts.final_error()
        meter.failed(error)
        raise error

    async def call_json(
        self, approval: Approval, call: UpstreamCall, parse: Callable[[Endpoint, bytes], T]
    ) -> T:
        """One attempt with a whole-body response. Raises UpstreamFailure (retryable),
        StreamProtocolError (malformed answer) or RejectedByUpstream (final)."""
        endpoint = approval.endpoint
        began = time.perf_counter()
        async with self.dispatcher.send(approval, call) as response:
            if response.status != 200:
                await self.raise_for_status(endpoint, response)
            result = parse(endpoint, await response.read())
        self.health.record_success(endpoint.id, time.perf_counter() - began)
        return result

    async def raise_for_status(self, endpoint: Endpoint, response: UpstreamResponse) -> None:
        body = await response.read(ERROR_BODY_LIMIT)
        classify = spec_for(endpoint.provider.protocol).classify
        info = classify(response.status, response.headers, body)
        del body  # classified; never kept, logged or relayed
        if not info.kind.retryable:
            raise rejected(endpoint.id, info)
        raise UpstreamFailure(info.kind, endpoint.id, response.status)


UNKNOWN_MODEL = "unknown"


class Metering:
    """Builds the one usage row of a request from metadata (never content), and
    holds its rate-limit and budget reservations until that row settles them."""

    def __init__(
        self, gateway: Gateway, principal: Principal, route: str, model: str, stream: bool
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

    async def admit(self, plan: Plan) -> None:
        """Before any upstream call: raises RateLimited, BudgetExceeded (402) or
        LimitStoreUnavailable (503); else reserves the request's maximum."""
        endpoints = [approval.endpoint for approval in plan.approvals]
        self.ticket = await self.gateway.limiter.admit(self.principal, self.demand, endpoints)

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
        self._record(endpoint, 200, None, self.attempts.count + 1, prompt, completion, cost)
        self._throughput(endpoint, completion)

    def failed(self, error: GatewayError, endpoint: Endpoint | None = None) -> None:
        self._record(endpoint, error.status, error.code, self.attempts.count, 0, 0, 0.0)

    def ended(
        self, endpoint: Endpoint | None, usage: JSON | None, outcome: str | None, status: int
    ) -> None:
        """A stream's row: tokens as far as the upstream reported them."""
        prompt, completion = token_counts(usage)
        cost = cost_of(endpoint, prompt, completion) if endpoint else 0.0
        tries = self.attempts.count + (1 if endpoint and outcome is None else 0)
        self._record(endpoint, status, outcome, tries, prompt, completion, cost)
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
            )
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


def refuse_storage_features(request: ChatRequest) -> None:
    """Requests that would make a provider keep data are refused, not rewritten."""
    for message in request.messages:
        if isinstance(message.content, list):
            for part in message.content:
                if part.type == "file" and part.file.file_id:
                    raise StorageFeatureRefused(
                        "File ids refer to files stored at a provider; zdrgate cannot use "
                        "stored files. Send the file inline as file_data instead.",
                        param="messages",
                    )
