"""Turning the service's stream events into an HTTP response.

If the first event arrives within the keep-alive interval, the response starts
with the right status (an error) or with the receipt headers (a stream). If not,
a 200 SSE response starts at once and carries keep-alive comments until it does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson

from zdrgate.errors import GatewayError
from zdrgate.server.responses import SSEResponse, error_response
from zdrgate.service.streaming import DONE, Committed, StreamEvent

KEEPALIVE = b": keep-alive\n\n"


async def stream_response(events: AsyncGenerator[StreamEvent, None], keepalive: float) -> Any:
    first = asyncio.ensure_future(anext(events))
    await asyncio.wait({first}, timeout=keepalive)
    if not first.done():
        return SSEResponse(_body(events, first, keepalive), {})
    event = first.result()  # a planning error (404 policy) raises here, before any byte
    if isinstance(event, GatewayError):
        await events.aclose()
        return error_response(event)
    headers = event.served.headers() if isinstance(event, Committed) else {}
    return SSEResponse(_body(events, None, keepalive), headers)


async def _body(
    events: AsyncGenerator[StreamEvent, None],
    pending: asyncio.Future[StreamEvent] | None,
    keepalive: float,
) -> AsyncIterator[bytes]:
    try:
        if pending is not None:
            while not pending.done():
                await asyncio.wait({pending}, timeout=keepalive)
                if not pending.done():
                    yield KEEPALIVE
            for data in _render(pending.result()):
                yield data
        async for event in events:
            for data in _render(event):
                yield data
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await events.aclose()


def _render(event: StreamEvent) -> list[bytes]:
    if isinstance(event, bytes):
        return [event]
    if isinstance(event, GatewayError):  # the stream had started: say so in-band
        return [b"data: " + orjson.dumps(event.envelope()) + b"\n\n", DONE]
    # Committed after the headers went out: the receipt travels as an SSE comment.
    receipt = " ".join(f"{k}={v}" for k, v in event.served.headers().items())
    return [f": {receipt}\n\n".encode()]
