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
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Protocol

import orjson
from starlette.types import Message, Receive, Scope, Send

from zdrgate.errors import GatewayError
from zdrgate.protocols.common import JSON
from zdrgate.protocols.spec import InboundCodec
from zdrgate.server.responses import JSONBytes, error_response
from zdrgate.service.events import Chunks, Committed, StreamEnd, StreamEvent, StreamFailed

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Renderer(Protocol):
    keepalive: bytes

    def render(self, event: StreamEvent) -> list[bytes]:
        """The bytes of one event, once the response has started."""

    def closing(self) -> list[bytes]:
        """After the last event: what to send if the stream has not ended properly."""

    def error_response(self, error: GatewayError) -> JSONBytes:
        """An error before anything was sent, with its own status."""


class OpenAIRenderer:
    """Chat completion chunks as ``data:`` events, then ``data: [DONE]``. A usage-only
    chunk reaches only clients that asked for it (``stream_options.include_usage``):
    some clients index ``choices[0]`` blindly."""

    keepalive = b": keep-alive\n\n"

    def __init__(
        self, include_usage: bool, reshape: Callable[[JSON], JSON] | None = None
    ) -> None:
        self.include_usage = include_usage
        self.reshape = reshape  # the client's shape of a chunk (deprecated function_call)
        self._last: JSON = {}  # the last chunk sent: a failure chunk continues its id

    def render(self, event: StreamEvent) -> list[bytes]:
        if isinstance(event, Chunks):
            items = event.items if self.include_usage else [c for c in event.items if _shown(c)]
            if not items:
                return []
            if self.reshape is not None:
                items = [self.reshape(c) for c in items]
            self._last = items[-1]
            return [b"".join([b"data: %b\n\n" % orjson.dumps(c) for c in items])]
        if isinstance(event, StreamEnd):
            return [DONE]
        if isinstance(event, StreamFailed):
            return [b"data: %b\n\n" % orjson.dumps(failure_chunk(self._last, event)), DONE]
        if isinstance(event, GatewayError):  # the stream had started: say so in-band
            return [b"data: " + orjson.dumps(event.envelope()) + b"\n\n", DONE]
        # Committed after the headers went out: the receipt travels as an SSE comment.
        receipt = " ".join(f"{k}={v}" for k, v in event.served.headers().items())
        return [f": {receipt}\n\n".encode()]

    def closing(self) -> list[bytes]:
        return []  # the service always ends with END or an error

    def error_response(self, error: GatewayError) -> JSONBytes:
        return error_response(error)


class InboundRenderer:
    """The neutral events spelled by an inbound protocol's event writer (Anthropic's
    named events, ``ping`` keeping alive), errors in its envelope."""

    def __init__(self, codec: InboundCodec, model: str) -> None:
        self.codec = codec
        self.keepalive = codec.keepalive
        self.events = codec.events(model)

    def render(self, event: StreamEvent) -> list[bytes]:
        if isinstance(event, GatewayError):
            return self.events.error(event.status, event.message, event.code)
        if isinstance(event, Chunks):
            return [data for chunk in event.items for data in self.events.chunk(chunk)]
        if isinstance(event, StreamEnd):
            return self.events.done()
        if isinstance(event, StreamFailed):
            return self.events.error(502, event.message, event.kind.value)
        return []  # a late receipt: such formats have no place for comments

    def closing(self) -> list[bytes]:
        # The service always ends a stream; never end one silently all the same.
        return [] if self.events.ended else self.events.error(502, "The stream ended unexpectedly.")

    def error_response(self, error: GatewayError) -> JSONBytes:
        body = self.codec.error_body(error.status, error.message, error.code)
        return JSONBytes(body, status_code=error.status)


def _shown(chunk: JSON) -> bool:
    return bool(chunk.get("choices")) or "usage" not in chunk


def failure_chunk(last: JSON, failed: StreamFailed) -> JSON:
    """The chunk that ends a stream the upstream broke off (``finish_reason: "error"``)."""
    return {
        "id": last.get("id", "chatcmpl-error"),
        "object": "chat.completion.chunk",
        "created": last.get("created", int(time.time())),
        "model": last.get("model"),
        "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}],
        "error": {
            "message": failed.message,
            "type": "upstream_error",
            "code": failed.kind.value,
            "param": None,
        },
    }


class StreamReply:
    """The ASGI response of a stream. It runs in the request's own task: a second
    task exists only to notice a client disconnect (it cancels this one, which
    closes the upstream), and a third only if the first event is slow to come."""

    def __init__(
        self, events: AsyncGenerator[StreamEvent, None], keepalive: float, renderer: Renderer
    ) -> None:
        self.events = events
        self.keepalive = keepalive
        self.renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        with _cancel_on_disconnect(receive, task) as gone:
            try:
                await self._run(scope, receive, send)
            except asyncio.CancelledError:
                if not gone.is_set():
                    raise
                task.uncancel()  # the client left: nothing more to do
            finally:
                await self.events.aclose()

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        early = _EarlyStart(send, self.renderer.keepalive, self.keepalive)
        timer = asyncio.get_running_loop().call_later(self.keepalive, early.begin)
        try:
            first: StreamEvent | None = await anext(self.events)
        except GatewayError as error:  # refused before any attempt (policy, bad input)
            first = error
        except StopAsyncIteration:
            first = None
        finally:
            timer.cancel()
            await early.stop()
        if not early.started:
            if isinstance(first, GatewayError):
                await self.renderer.error_response(first)(scope, receive, send)
                return
            if isinstance(first, Committed):  # the receipt goes in the headers
                await send(_start(first.served.headers()))
                first = None
            else:
                await send(_start({}))
        if first is not None:
            await _write(send, self.renderer.render(first))
        render = self.renderer.render
        async for event in self.events:  # the per-chunk path: kept short
            pieces = render(event)
            if pieces:
                body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
                await send({"type": "http.response.body", "body": body, "more_body": True})
        await _write(send, self.renderer.closing())
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class _EarlyStart:
    """If the first event is late: start the response and send keep-alives until it comes."""

    def __init__(self, send: Send, keepalive: bytes, interval: float) -> None:
        self.send = send
        self.keepalive = keepalive
        self.interval = interval
        self.started = False
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        self.started = True
        await self.send(_start({}))
        while True:
            await _write(self.send, [self.keepalive])
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@contextlib.contextmanager
def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[None]) -> Iterator[asyncio.Event]:
    gone = asyncio.Event()

    def on_disconnect(watcher: asyncio.Future[None]) -> None:
        if not watcher.cancelled() and watcher.exception() is None:
            gone.set()
            task.cancel()

    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    watcher.add_done_callback(on_disconnect)
    try:
        yield gone
    finally:  # runs before the watcher can see the end of a completed response
        watcher.remove_done_callback(on_disconnect)
        watcher.cancel()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _start(receipt: dict[str, str]) -> Message:
    headers = [(k.encode(), v.encode()) for k, v in receipt.items()]
    return {"type": "http.response.start", "status": 200, "headers": headers + SSE_HEADERS}


async def _write(send: Send, pieces: list[bytes]) -> None:
    if pieces:
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        await send({"type": "http.response.body", "body": body, "more_body": True})
