"""The Gateway: catalog, policy, routing, adapters and dispatch wired together."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zdrgate.accounts.keys import Principal
from zdrgate.accounts.usage import UsageEvent, UsageRecorder
from zdrgate.adapters import ErrorKind, adapter_for
from zdrgate.adapters.base import JSON, StreamProtocolError
from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.errors import StorageFeatureRefused
from zdrgate.policy import Approval, PolicyEngine
from zdrgate.routing import HealthBoard
from zdrgate.service.attempt import Attempts, rejected
from zdrgate.service.plan import Plan, make_plan
from zdrgate.upstream import Dispatcher, UpstreamFailure
from zdrgate.upstream.dispatch import ERROR_BODY_LIMIT
from zdrgate.wire.chat import ChatRequest


@dataclass(frozen=True, slots=True)
class Served:
    """Which endpoint served a request, for the response headers (the receipt)."""

    endpoint_id: str
    policy_digest: str
    verified_on: str

    @classmethod
    def of(cls, approval: Approval) -> Served:
        verified = approval.endpoint.policy.verified_on
        return cls(
            approval.endpoint.id, approval.policy_digest, verified.isoformat() if verified else ""
        )

    def headers(self) -> dict[str, str]:
        return {
            "x-zdr-endpoint": self.endpoint_id,
            "x-zdr-policy": self.policy_digest,
            "x-zdr-verified-on": self.verified_on,
        }


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
    ) -> None:
        self.catalog = catalog
        self.engine = engine
        self.dispatcher = dispatcher
        self.usage = usage
        self.health = health
        self.rng = rng or random.Random()  # noqa: S311 - load spreading, not secrets
        self.today = today

    def plan(self, request: ChatRequest) -> Plan:
        refuse_storage_features(request)
        return make_plan(request, self.catalog, self.engine, self.health, self.rng, self.today())

    async def chat(self, request: ChatRequest, principal: Principal) -> tuple[JSON, Served]:
        """Non-streaming chat: the first approved endpoint that answers serves."""
        plan = self.plan(request)
        started, attempts = time.perf_counter(), Attempts()
        for approval in plan.approvals:
            result = await self._try_chat(approval, request, attempts)
            if result is not None:
                self._meter(principal, request, approval.endpoint, result, attempts, started)
                return result, Served.of(approval)
        self._meter_failure(principal, request, attempts, started)
        raise attempts.final_error()

    async def _try_chat(
        self, approval: Approval, request: ChatRequest, attempts: Attempts
    ) -> JSON | None:
        endpoint = approval.endpoint
        adapter = adapter_for(endpoint.provider.protocol)
        call = adapter.build_chat(endpoint, request)
        began = time.perf_counter()
        try:
            async with self.dispatcher.send(approval, call) as response:
                if response.status != 200:
                    body = await response.read(ERROR_BODY_LIMIT)
                    info = adapter.classify_error(response.status, dict(response.headers), body)
                    del body  # classified; never kept, logged or relayed
                    if not info.kind.retryable:
                        raise rejected(endpoint.id, info)
                    self._failed(endpoint, info.kind, attempts)
                    return None
                result = adapter.parse_chat(endpoint, await response.read())
        except (UpstreamFailure, StreamProtocolError) as exc:
            self._failed(endpoint, exc.kind, attempts)
            return None
        self.health.record_success(endpoint.id, time.perf_counter() - began)
        return result

    def _failed(self, endpoint: Endpoint, kind: ErrorKind, attempts: Attempts) -> None:
        attempts.failed(kind)
        self.health.record_failure(endpoint.id)

    def meter(
        self,
        principal: Principal,
        request: ChatRequest,
        endpoint: Endpoint | None,
        usage: dict[str, Any] | None,
        status: int,
        error_kind: str | None,
        attempts: int,
        started: float,
    ) -> None:
        prompt, completion = token_counts(usage)
        self.usage.record(
            UsageEvent(
                key_id=principal.key_id,
                started_at=dt.datetime.now(dt.UTC),
                route="chat.completions",
                model=endpoint.model_id if endpoint else request.model,
                endpoint=endpoint.id if endpoint else None,
                status=status,
                error_kind=error_kind,
                stream=request.stream,
                attempts=attempts,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost_usd=cost_of(endpoint, prompt, completion) if endpoint else 0.0,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )

    def _meter(
        self,
        principal: Principal,
        request: ChatRequest,
        endpoint: Endpoint,
        result: JSON,
        attempts: Attempts,
        started: float,
    ) -> None:
        usage = result.get("usage")
        self.meter(
            principal,
            request,
            endpoint,
            usage if isinstance(usage, dict) else None,
            200,
            None,
            attempts.count + 1,
            started,
        )

    def _meter_failure(
        self, principal: Principal, request: ChatRequest, attempts: Attempts, started: float
    ) -> None:
        error = attempts.final_error()
        self.meter(
            principal, request, None, None, error.status, error.code, attempts.count, started
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
