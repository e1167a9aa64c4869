"""Streaming chat: events for the server to write, and the rules that keep it honest.

:func:`stream_events` yields, in order, either a
:class:`Committed` (an endpoint sent its first chunk: headers may go out) followed by
SSE-ready ``bytes``, or a ``GatewayError`` when no endpoint could start.

Before the first chunk, a failing endpoint falls back to the next approved one.
After it, a failure ends the stream with an error chunk (``finish_reason: "error"``)
and ``data: [DONE]``, never a silent cut. Cancelling the consumer closes the
upstream connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import orjson

from zdrgate.accounts.keys import Principal
from zdrgate.adapters import ErrorKind, adapter_for
from zdrgate.adapters.base import JSON, StreamProtocolError
from zdrgate.errors import GatewayError
from zdrgate.policy import Approval
from zdrgate.service.attempt import Attempts, rejected
from zdrgate.service.gateway import Gateway, Served
from zdrgate.upstream import UpstreamFailure
from zdrgate.upstream.dispatch import ERROR_BODY_LIMIT
from zdrgate.wire.chat import ChatRequest

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class Committed:
    served: Served


StreamEvent = Committed | bytes | GatewayError


def sse(chunk: JSON) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class _Meter:
    """What the usage row of one stream needs: token counts and outcome, never content."""

    def __init__(self) -> None:
        self.usage: JSON | None = None
        self.outcome: str | None = None  # None: not decided yet, try the next endpoint
        self.status = 200

    def see(self, chunk: JSON) -> None:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage


async def stream_events(
    gateway: Gateway, request: ChatRequest, principal: Principal
) -> AsyncGenerator[StreamEvent, None]:
    plan = gateway.plan(request)  # policy errors surface before anything is sent
    attempts, meter, started = Attempts(), _Meter(), time.perf_counter()
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    served = None
    try:
        for approval in plan.approvals:
            async for event in _attempt(gateway, approval, request, attempts, meter, include_usage):
                if isinstance(event, Committed):
                    served = approval.endpoint
                yield event
            if meter.outcome is not None:
                return
        error = attempts.final_error()
        meter.outcome, meter.status = error.code, error.status
        yield error
    finally:
        outcome = None if meter.outcome == "done" else meter.outcome or "cancelled"
        tries = attempts.count + (1 if served and meter.outcome == "done" else 0)
        gateway.meter(
            principal, request, served, meter.usage, meter.status, outcome, tries, started
        )


async def _attempt(
    gateway: Gateway,
    approval: Approval,
    request: ChatRequest,
    attempts: Attempts,
    meter: _Meter,
    include_usage: bool,
) -> AsyncIterator[StreamEvent]:
    endpoint = approval.endpoint
    adapter = adapter_for(endpoint.provider.protocol)
    decoder = adapter.stream_decoder(endpoint, request)
    committed, began = False, time.perf_counter()
    last: JSON | None = None
    try:
        async with gateway.dispatcher.send(
            approval, adapter.build_chat(endpoint, request)
        ) as response:
            if response.status != 200:
                body = await response.read(ERROR_BODY_LIMIT)
                info = adapter.classify_error(response.status, dict(response.headers), body)
                del body  # classified; never kept, logged or relayed
                if not info.kind.retryable:
                    error = rejected(endpoint.id, info)
                    meter.outcome, meter.status = info.kind.value, error.status
                    yield error
                    return
                raise UpstreamFailure(info.kind, endpoint.id, response.status)
            async for data in response.iter_chunks():
                for chunk in decoder.feed(data):
                    if not committed:
                        committed = True
                        gateway.health.record_success(endpoint.id, time.perf_counter() - began)
                        yield Committed(Served.of(approval))
                    last = chunk
                    meter.see(chunk)
                    if include_usage or not _usage_only(chunk):
                        yield sse(chunk)
            for chunk in decoder.finish():
                meter.see(chunk)
                if include_usage or not _usage_only(chunk):
                    yield sse(chunk)
        meter.outcome = "done"
        yield DONE
    except (UpstreamFailure, StreamProtocolError) as exc:
        attempts.failed(exc.kind)
        gateway.health.record_failure(endpoint.id)
        if committed:
            meter.outcome = exc.kind.value
            yield sse(error_chunk(last, endpoint.model_id, exc.kind))
            yield DONE


def _usage_only(chunk: JSON) -> bool:
    return not chunk.get("choices") and "usage" in chunk


def error_chunk(last: JSON | None, model_id: str, kind: ErrorKind) -> JSON:
    """The chunk that ends a stream the upstream broke off."""
    last = last or {}
    return {
        "id": last.get("id", "chatcmpl-error"),
        "object": "chat.completion.chunk",
        "created": last.get("created", int(time.time())),
        "model": model_id,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}],
        "error": {
            "message": f"The upstream stream failed after it started ({kind.value}); "
            "the response is incomplete.",
            "type": "upstream_error",
            "code": kind.value,
            "param": None,
        },
    }
