"""The Gateway: catalog, policy, routing, protocols and dispatch wired together.

Every model-serving route calls one of its methods (``chat``, ``stream``, ``images``,
``embeddings``); each plans (policy, then routing) and runs the plan through the one
attempt loop (:mod:`zdrgate.service.runner`), metered without content.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from zdrgate.accounts.keys import Principal, reconfirmed
from zdrgate.accounts.usage import UsageEvent, UsageRecorder
from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.errors import (
    GatewayError,
    LimitStoreUnavailable,
    ServiceUnavailable,
    StorageFeatureRefused,
)
from zdrgate.limits import NO_DEMAND, NO_TICKET, Demand, Limiter, MemoryCounters
from zdrgate.policy import Approval, Constraints, PolicyEngine
from zdrgate.protocols import endpoint_spec
from zdrgate.protocols.common import JSON
from zdrgate.routing import HealthBoard, Preferences
from zdrgate.service.attempt import Attempts
from zdrgate.service.embeddings import ROUTE as EMBEDDINGS_ROUTE
from zdrgate.service.embeddings import create_embeddings
from zdrgate.service.entitlements import entitled
from zdrgate.service.events import StreamEvent
from zdrgate.service.fanout import fan_out, fanned_out
from zdrgate.service.images import ROUTE as IMAGES_ROUTE
from zdrgate.service.images import generate_images, refuse_url_answers
from zdrgate.service.media import media_constraints
from zdrgate.service.plan import Plan, constraints_for, make_plan, model_ids, preferences_for
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.service.streaming import Tally, chat_attempt
from zdrgate.upstream import Dispatcher
from zdrgate.upstream.assets import AssetFetcher
from zdrgate.wire.chat import ChatRequest, ProviderPreferences
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest

__all__ = ["Gateway", "Metering", "Served"]


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
        self.runner = Runner(dispatcher, health)  # the one attempt loop

    def plan(self, request: ChatRequest, principal: Principal) -> Plan:
        refuse_storage_features(request)
        models = model_ids(request.model, request.models)
        prefs = preferences_for(request.provider)
        return self.plan_for(models, constraints_for(request), prefs, principal)

    def plan_for(
        self, models: list[str], constraints: Constraints, prefs: Preferences, principal: Principal
    ) -> Plan:
        """The plan of any model-serving request (chat, images, embeddings), narrowed to
        what the caller's key allows (``service.entitlements``)."""
        return make_plan(
            models,
            entitled(principal, models, constraints),
            prefs,
            self.catalog,
            self.engine,
            self.health,
            self.rng,
            self.today(),
        )

    def plan_media(
        self,
        model: str,
        fallbacks: list[str] | None,
        provider: ProviderPreferences | None,
        modality: str,
        principal: Principal,
    ) -> Plan:
        """Approved endpoints, in routing order, for an image or embedding request."""
        constraints = media_constraints(provider, modality)
        models = model_ids(model, fallbacks)
        return self.plan_for(models, constraints, preferences_for(provider), principal)

    async def chat(
        self, request: ChatRequest, principal: Principal, demand: Demand = NO_DEMAND
    ) -> tuple[JSON, Served]:
        """Non-streaming chat: the first approved endpoint that answers serves."""
        plan = self.plan(request, principal)
        meter = Metering(self, principal, "chat.completions", request.model, request.stream)
        meter.demand = demand
        meter.replan = lambda now: self.plan(request, now).approvals
        prepared = ProtocolRequests(self.assets, request)

        async def attempt(approval: Approval) -> JSON:
            endpoint = approval.endpoint
            spec = endpoint_spec(endpoint)
            codec = spec.require_chat()
            given = await prepared.for_endpoint(endpoint)
            calls = fanned_out(given, spec.one_choice_per_call)
            if calls > 1:  # one choice per call upstream: n calls, one answer
                call = codec.build_chat(endpoint, given.model_copy(update={"n": None}))
                return await fan_out(
                    calls, lambda: self.runner.call_json(approval, call, codec.parse_chat)
                )
            call = codec.build_chat(endpoint, given)
            return await self.runner.call_json(approval, call, codec.parse_chat)

        result, approval = await self.runner.first(plan.approvals, meter, attempt)
        usage = result.get("usage")
        prompt, completion = token_counts(usage if isinstance(usage, dict) else None)
        meter.succeeded(approval.endpoint, prompt, completion)
        return result, meter.served(approval)

    def stream(
        self, request: ChatRequest, principal: Principal, demand: Demand = NO_DEMAND
    ) -> AsyncGenerator[StreamEvent, None]:
        """Streamed chat as protocol-neutral events (:mod:`zdrgate.service.events`).
        Policy errors raise here, before anything is sent."""
        plan = self.plan(request, principal)
        meter = Metering(self, principal, "chat.completions", request.model, stream=True)
        meter.demand = demand
        meter.replan = lambda now: self.plan(request, now).approvals
        prepared = ProtocolRequests(self.assets, request)
        tally = Tally(request)
        runner = self.runner

        def attempt(approval: Approval) -> AsyncIterator[StreamEvent]:
            return chat_attempt(runner, approval, prepared, tally)

        return runner.stream(plan.approvals, meter, tally, attempt)

    async def images(
        self,
        request: ImageRequest,
        principal: Principal,
        *,
        pass_urls: bool,
        demand: Demand = NO_DEMAND,
    ) -> tuple[JSON, Served]:
        """Image generation (``/v1/images/generations``), see :mod:`.images`."""
        refuse_url_answers(request, pass_urls)

        def plan(who: Principal) -> Plan:
            return self.plan_media(request.model, request.models, request.provider, "image", who)

        meter = Metering(self, principal, IMAGES_ROUTE, request.model, stream=False)
        meter.demand = demand
        meter.replan = lambda now: plan(now).approvals
        return await generate_images(self.runner, self.assets, plan(principal), meter, request)

    async def embeddings(
        self, request: EmbeddingRequest, principal: Principal, demand: Demand = NO_DEMAND
    ) -> tuple[JSON, Served]:
        """Embeddings (``/v1/embeddings``), see :mod:`.embeddings`."""

        def plan(who: Principal) -> Plan:
            return self.plan_media(
                request.model, request.models, request.provider, "embeddings", who
            )

        meter = Metering(self, principal, EMBEDDINGS_ROUTE, request.model, stream=False)
        meter.demand = demand
        meter.replan = lambda now: plan(now).approvals
        return await create_embeddings(self.runner, plan(principal), meter, request)


UNKNOWN_MODEL = "unknown"
_ADMISSIONS = 3  # a principal whose rights change during as many admissions gets 503


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
