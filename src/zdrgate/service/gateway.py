"""The Gateway: catalog, policy, routing, protocols and dispatch wired together.

Every model-serving route calls one of its methods (``chat``, ``stream``, ``images``,
``embeddings``); each plans (policy, then routing) and runs the plan through the one
attempt loop (:mod:`zdrgate.service.runner`), metered without content.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from zdrgate.accounts.keys import Principal
from zdrgate.accounts.usage import UsageRecorder
from zdrgate.catalog.model import Catalog
from zdrgate.errors import (
    StorageFeatureRefused,
)
from zdrgate.limits import NO_DEMAND, Demand, Limiter, MemoryCounters
from zdrgate.policy import Approval, Constraints, PolicyEngine
from zdrgate.protocols import endpoint_spec
from zdrgate.protocols.common import JSON
from zdrgate.routing import HealthBoard, Preferences
from zdrgate.service.embeddings import ROUTE as EMBEDDINGS_ROUTE
from zdrgate.service.embeddings import create_embeddings
from zdrgate.service.entitlements import entitled
from zdrgate.service.events import StreamEvent
from zdrgate.service.fanout import fan_out, fanned_out
from zdrgate.service.images import ROUTE as IMAGES_ROUTE
from zdrgate.service.images import generate_images, refuse_url_answers
from zdrgate.service.media import media_constraints
from zdrgate.service.metering import Metering, token_counts
from zdrgate.service.plan import Plan, constraints_for, make_plan, model_ids, preferences_for
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.service.streaming import chat_attempt
from zdrgate.service.tally import Tally
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
