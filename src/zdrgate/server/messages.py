"""``POST /v1/messages``: the Anthropic Messages API over the one pipeline.

The request is translated to the canonical chat request and served by the same
service call as ``/v1/chat/completions`` (same policy, routing and fallbacks); the
result is rendered the Anthropic way. Every error uses Anthropic's envelope
``{"type": "error", "error": {"type", "message"}}`` with the gateway's status. The
key may come as ``x-api-key`` (what the Anthropic SDK sends) or as a bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from zdrgate.accounts.keys import Principal
from zdrgate.adapters.anthropic_inbound import to_chat_request
from zdrgate.adapters.anthropic_render import PING, MessageEvents, error_body, to_message
from zdrgate.errors import GatewayError
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes, SSEResponse
from zdrgate.server.routes import state_of
from zdrgate.service.streaming import DONE, Committed, StreamEvent, stream_events
from zdrgate.wire.anthropic import MessagesRequest
from zdrgate.wire.chat import ChatRequest


def anthropic_error(error: GatewayError) -> Response:
    body = error_body(error.status, error.message, error.code)
    return JSONBytes(body, status_code=error.status)


async def authenticate(request: Request) -> Principal:
    key = request.headers.get("x-api-key")
    header = f"Bearer {key}" if key else request.headers.get("authorization")
    return await state_of(request).auth.authenticate(header)


async def messages(request: Request) -> Any:
    try:
        state = state_of(request)
        principal = await authenticate(request)
        chat = to_chat_request(parse_body(MessagesRequest, await request.body()))
        if chat.stream:
            events = stream_events(state.gateway, chat, principal)
            return await _stream(events, chat, state.settings.server.stream_keepalive_seconds)
        result, served = await state.gateway.chat(chat, principal)
        return JSONBytes(to_message(result), headers=served.headers())
    except GatewayError as error:
        return anthropic_error(error)


async def _stream(
    events: AsyncGenerator[StreamEvent, None], chat: ChatRequest, keepalive: float
) -> Any:
    """As :func:`zdrgate.server.streaming.stream_response`, with Anthropic's events:
    an error before the first chunk keeps its status; a slow start gets ``ping``s."""
    first = asyncio.ensure_future(anext(events))
    await asyncio.wait({first}, timeout=keepalive)
    render = MessageEvents(chat.model)
    if not first.done():
        return SSEResponse(_body(events, first, render, keepalive), {})
    event = first.result()  # a planning error raises here, before any byte
    if isinstance(event, GatewayError):
        await events.aclose()
        return anthropic_error(event)
    headers = event.served.headers() if isinstance(event, Committed) else {}
    return SSEResponse(_body(events, None, render, keepalive), headers)


async def _body(
    events: AsyncGenerator[StreamEvent, None],
    pending: asyncio.Future[StreamEvent] | None,
    render: MessageEvents,
    keepalive: float,
) -> AsyncIterator[bytes]:
    try:
        if pending is not None:
            while not pending.done():
                await asyncio.wait({pending}, timeout=keepalive)
                if not pending.done():
                    yield PING
            for data in _render(render, pending.result()):
                yield data
        async for event in events:
            for data in _render(render, event):
                yield data
        if not render.ended:  # the service always ends a stream; never end one silently
            for data in render.error(502, "The stream ended unexpectedly."):
                yield data
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await events.aclose()


def _render(render: MessageEvents, event: StreamEvent) -> list[bytes]:
    if isinstance(event, GatewayError):
        return render.error(event.status, event.message, event.code)
    if not isinstance(event, bytes):
        return []
    if event == DONE:
        return render.done()
    return render.chunk(orjson.loads(event.removeprefix(b"data: ")))
