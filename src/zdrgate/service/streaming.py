"""Streaming chat: one attempt at one approved endpoint (the stream's tally:
:mod:`zdrgate.service.tally`).

The events are protocol-neutral (:mod:`zdrgate.service.events`); the attempt loop,
fallback before the first chunk and :class:`~zdrgate.service.events.StreamFailed`
after it, is the runner's (:mod:`zdrgate.service.runner`). Cancelling the consumer
closes the upstream connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from zdrgate.policy import Approval
from zdrgate.protocols import ProtocolSpec, endpoint_spec
from zdrgate.protocols.common import JSON
from zdrgate.service.events import END, Chunks, Committed, StreamEvent
from zdrgate.service.fanout import fanned_out, merged_streams
from zdrgate.service.prepare import ProtocolRequests
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.service.tally import Tally
from zdrgate.wire.chat import ChatRequest


async def chat_attempt(
    runner: Runner, approval: Approval, prepared: ProtocolRequests, tally: Tally
) -> AsyncIterator[StreamEvent]:
    """The events of one streamed attempt; failures raise (the runner decides). ``n``
    choices over a protocol that answers one per call are n streams, merged."""
    endpoint = approval.endpoint
    spec = endpoint_spec(endpoint)
    request = await prepared.for_endpoint(endpoint)
    n = fanned_out(request, spec.one_choice_per_call)
    if n == 1:
        source = decoded(runner, approval, spec, request)
    else:
        one = request.model_copy(update={"n": None})
        source = merged_streams(n, lambda: decoded(runner, approval, spec, one))
    committed, began = False, time.perf_counter()
    async with aclosing(source):  # leaving closes the upstream connection(s) at once
        async for chunks in source:
            if not committed:
                committed = True
                tally.first_chunk_at = now = time.perf_counter()
                runner.health.record_success(endpoint.id, now - began)
                yield Committed(Served.of(approval))
            tally.see(chunks)
            yield Chunks(chunks)  # one write per upstream read, however many events
    tally.outcome = "done"
    yield END


async def decoded(
    runner: Runner, approval: Approval, spec: ProtocolSpec, request: ChatRequest
) -> AsyncGenerator[list[JSON], None]:
    """The canonical chunks of one upstream stream, a list per read that has any."""
    endpoint = approval.endpoint
    decoder = spec.require_stream().stream_decoder(endpoint, request)
    call = spec.require_chat().build_chat(endpoint, request)
    async with runner.dispatcher.send(approval, call) as response:
        if response.status != 200:
            await runner.raise_for_status(endpoint, response)
        async for data in response.iter_chunks():
            if chunks := decoder.feed(data):
                yield chunks
        if tail := decoder.finish():
            yield tail
