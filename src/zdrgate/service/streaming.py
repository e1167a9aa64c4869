"""Streaming chat: events for the server to write, and the rules that keep it honest.

:func:`stream_events` yields, in order, either a :class:`Committed` (an endpoint
sent its first chunk: headers may go out) followed by :class:`Chunks` (canonical
chunk dicts, one batch per upstream read) and :data:`END`, or a ``GatewayError``
when no endpoint could start. Routes render them in their own wire format.

Before the first chunk, a failing endpoint falls back to the next approved one.
After it, a failure ends the stream with an error chunk (``finish_reason: "error"``)
and :data:`END` (``data: [DONE]`` for OpenAI clients), never a silent cut.
Cancelling the consumer closes the upstream connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from zdrgate.accounts.keys import Principal
from zdrgate.errors import GatewayError
from zdrgate.limits import NO_DEMAND, Demand
from zdrgate.policy import Approval
from zdrgate.protocols import ErrorKind, spec_for
from zdrgate.protocols.common import JSON
from zdrgate.protocols.errors import StreamProtocolError
from zdrgate.service.attempt import Attempts, RejectedByUpstream
from zdrgate.service.gateway import Gateway, Metering, Served
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.upstream import UpstreamFailure
from zdrgate.wire.chat import ChatRequest


@dataclass(frozen=True, slots=True)
class Committed:
    served: Served


@dataclass(slots=True)  # not frozen: one is made per upstream read
class Chunks:
    """Canonical ``chat.completion.chunk`` dicts from one upstream read."""

    items: list[JSON]


class StreamEnd:
    """The stream ended properly (after its last chunk, or after an error chunk)."""


END = StreamEnd()
StreamEvent = Committed | Chunks | StreamEnd | GatewayError


class _Tally:
    """What a stream's usage row needs: token counts and outcome, never content."""

    def __init__(self) -> None:
        self.usage: JSON | None = None
        self.outcome: str | None = None  # None: not decided yet, try the next endpoint
        self.status = 200

    def see(self, chunk: JSON) -> None:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage


async def stream_events(
    gateway: Gateway, request: ChatRequest, principal: Principal, demand: Demand = NO_DEMAND
) -> AsyncGenerator[StreamEvent, None]:
    plan = gateway.plan(request)  # policy errors surface before anything is sent
    meter = Metering(gateway, principal, "chat.completions", request.model, stream=True)
    meter.demand = demand
    await meter.admit(plan)  # rate limits and budgets: 429/402/503 before anything is sent
    tally = _Tally()
    prepared = ProtocolRequests(gateway.assets, request)
    served = None
    try:
        for approval in plan.approvals:
            async for event in _attempt(gateway, approval, prepared, meter.attempts, tally):
                if isinstance(event, Committed):
                    served = approval.endpoint
                    yield Committed(event.served.with_limits(meter.ticket))
                else:
                    yield event
            if tally.outcome is not None:
                return
        error = meter.attempts.final_error()
        tally.outcome, tally.status = error.code, error.status
        yield error
    finally:
        outcome = None if tally.outcome == "done" else tally.outcome or "cancelled"
        meter.ended(served, tally.usage, outcome, tally.status)


async def _attempt(
    gateway: Gateway,
    approval: Approval,
    prepared: ProtocolRequests,
    attempts: Attempts,
    tally: _Tally,
) -> AsyncIterator[StreamEvent]:
    endpoint = approval.endpoint
    spec = spec_for(endpoint.provider.protocol)
    request = await prepared.for_endpoint(endpoint)
    decoder = spec.require_stream().stream_decoder(endpoint, request)
    include_usage = bool(request.stream_options and request.stream_options.include_usage)
    committed, began = False, time.perf_counter()
    last: JSON | None = None
    try:
        call = spec.require_chat().build_chat(endpoint, request)
        async with gateway.dispatcher.send(approval, call) as response:
            if response.status != 200:
                await gateway.raise_for_status(endpoint, response)
            async for data in response.iter_chunks():
                chunks = decoder.feed(data)
                if not chunks:
                    continue
                if not committed:
                    committed = True
                    gateway.health.record_success(endpoint.id, time.perf_counter() - began)
                    yield Committed(Served.of(approval))
                last = chunks[-1]
                # One write per upstream read, however many events it carried.
                if out := _kept(chunks, tally, include_usage):
                    yield Chunks(out)
            if tail := _kept(decoder.finish(), tally, include_usage):
                yield Chunks(tail)
        tally.outcome = "done"
        yield END
    except RejectedByUpstream as error:
        tally.outcome, tally.status = error.code, error.status
        yield error
    except (UpstreamFailure, StreamProtocolError) as exc:
        attempts.failed(exc.kind)
        gateway.health.record_failure(endpoint.id)
        if committed:
            tally.outcome = exc.kind.value
            yield Chunks([error_chunk(last, endpoint.model_id, exc.kind)])
            yield END


def _kept(chunks: list[JSON], tally: _Tally, include_usage: bool) -> list[JSON]:
    """Every chunk counts for metering; a usage-only chunk reaches only clients that
    asked for it (some index ``choices[0]`` blindly)."""
    for chunk in chunks:
        tally.see(chunk)
    return chunks if include_usage else [c for c in chunks if not _usage_only(c)]


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
