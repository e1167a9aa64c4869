"""Streaming chat: one attempt at one approved endpoint (the stream's tally:
:mod:`zdrgate.service.tally`).

The events are protocol-neutral (:mod:`zdrgate.service.events`); the attempt loop,
fallback before the first chunk and :class:`~zdrgate.service.events.StreamFailed`
after it, is the runner's (:mod:`zdrgate.service.runner`). Cancelling the consumer
closes the upstream connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from zdrgate.policy import Approval
from zdrgate.protocols import endpoint_spec
from zdrgate.service.events import END, Chunks, Committed, StreamEvent
from zdrgate.service.fanout import fan_out_stream
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.service.tally import Tally


async def chat_attempt(
    runner: Runner, approval: Approval, prepared: ProtocolRequests, tally: Tally
) -> AsyncIterator[StreamEvent]:
    """The events of one streamed attempt; failures raise (the runner decides)."""
    endpoint = approval.endpoint
    spec = endpoint_spec(endpoint)
    request = await prepared.for_endpoint(endpoint)
    if request.n is not None and request.n > 1 and spec.one_choice_per_call:
        async for event in fan_out_stream(runner, approval, spec, request, tally):
            yield event  # n streams of one choice each, as one
        return
    decoder = spec.require_stream().stream_decoder(endpoint, request)
    call = spec.require_chat().build_chat(endpoint, request)
    committed, began = False, time.perf_counter()
    async with runner.dispatcher.send(approval, call) as response:
        if response.status != 200:
            await runner.raise_for_status(endpoint, response)
        async for data in response.iter_chunks():
            chunks = decoder.feed(data)
            if not chunks:
                continue
            if not committed:
                committed = True
                tally.first_chunk_at = now = time.perf_counter()
                runner.health.record_success(endpoint.id, now - began)
                yield Committed(Served.of(approval))
            tally.see(chunks)
            yield Chunks(chunks)  # one write per upstream read, however many events
        if tail := decoder.finish():
            tally.see(tail)
            yield Chunks(tail)
    tally.outcome = "done"
    yield END
