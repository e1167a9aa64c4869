"""Turning the service's stream events into an HTTP response, in a route's wire format.

If the first event arrives within the keep-alive interval, the response starts
with the right status (an error) or with the receipt headers (a stream). If not,
a 200 SSE response starts at once and carries keep-alives until it does. A
:class:`Renderer` says how a route spells each event (OpenAI's ``data:`` chunks and
``[DONE]``, or Anthropic's named events).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

import orjson
from starlette.responses import Response

from zdrgate.errors import GatewayError
from zdrgate.server.responses import SSEResponse, error_response
from zdrgate.service.streaming import Chunks, Committed, StreamEnd, StreamEvent

DONE = b"data: [DONE]\n\n"


class Renderer(Protocol):
    keepalive: bytes

    def render(self, event: StreamEvent) -> list[bytes]:
        """The bytes of one event, once the response has started."""

    def closing(self) -> list[bytes]:
        """After the last event: what to send if the stream has not ended properly."""

    def error_response(self, error: GatewayError) -> Response:
        """An error before anything was sent, with its own status."""


class OpenAIRenderer:
    keepalive = b": keep-alive\n\n"

    def render(self, event: StreamEvent) -> list[bytes]:
        if isinstance(event, Chunks):
            return [b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in event.items)]
        if isinstance(event, StreamEnd):
            return [DONE]
        if isinstance(event, GatewayError):  # the stream had started: say so in-band
            return [b"data: " + orjson.dumps(event.envelope()) + b"\n\n", DONE]
        # Committed after the headers went out: the receipt travels as an SSE comment.
        receipt = " ".join(f"{k}={v}" for k, v in event.served.headers().items())
        return [f": {receipt}\n\n".encode()]

    def closing(self) -> list[bytes]:
        return []  # the service always ends with END or an error

    def error_response(self, error: GatewayError) -> Response:
        return error_response(error)


async def stream_response(
    events: AsyncGenerator[StreamEvent, None], keepalive: float, renderer: Renderer
) -> Any:
    first = asyncio.ensure_future(anext(events))
    await asyncio.wait({first}, timeout=keepalive)
    if not first.done():
        return SSEResponse(_body(events, first, keepalive, renderer), {})
    event = first.result()  # a planning error (404 policy) raises here, before any byte
    if isinstance(event, GatewayError):
        await events.aclose()
        return renderer.error_response(event)
    headers = event.served.headers() if isinstance(event, Committed) else {}
    return SSEResponse(_body(events, None, keepalive, renderer), headers)


async def _body(
    events: AsyncGenerator[StreamEvent, None],
    pending: asyncio.Future[StreamEvent] | None,
    keepalive: float,
    renderer: Renderer,
) -> AsyncIterator[bytes]:
    try:
        if pending is not None:
            while not pending.done():
                await asyncio.wait({pending}, timeout=keepalive)
                if not pending.done():
                    yield renderer.keepalive
            for data in renderer.render(pending.result()):
                yield data
        async for event in events:
            for data in renderer.render(event):
                yield data
        for data in renderer.closing():
            yield data
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await events.aclose()
