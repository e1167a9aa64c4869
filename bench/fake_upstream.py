"""A fake OpenAI upstream that must never be the bottleneck of a benchmark.

It is a raw asyncio protocol with the httptools C parser (what uvicorn uses
underneath, without ASGI), so a plain chat reply costs it a few microseconds.
Replies are pre-rendered bytes; only the request JSON is parsed, to read
``model``, ``stream`` and ``stream_options.include_usage``.

Endpoints:
  POST /v1/chat/completions   chat.completion, or an SSE stream when "stream": true
  GET  /v1/models             model list
  GET  /healthz               200, used by the runner to know the upstream is up
  GET  /_bench/stats          counters: requests, open streams, peak open streams

A request whose model name contains ``slow`` is a "slow stream": the first chunk
is sent at once (so the client sees its first byte), then the stream is held
open for ``--slow-seconds`` before the rest is sent. The 10,000-stream RSS test
uses it; a model name, not a flag, selects it so one upstream serves both.

Run:  python bench/fake_upstream.py --port 0     (prints "PORT <n>" when listening)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

import httptools
import orjson

CREATED = 1_764_000_000
REPLY_TEXT = "Hello! This is a benchmark reply from the fake upstream."
USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


class Options:
    """Behaviour knobs, shared by every connection."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.latency = args.latency_ms / 1000.0
        self.chunks = args.chunks
        self.chunk_delay = args.chunk_delay_ms / 1000.0
        self.slow_seconds = args.slow_seconds


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.open_streams = 0
        self.peak_open_streams = 0

    def stream_opened(self) -> None:
        self.open_streams += 1
        self.peak_open_streams = max(self.peak_open_streams, self.open_streams)

    def as_json(self) -> bytes:
        return orjson.dumps(self.__dict__)


STATS = Stats()


# --- pre-rendered bodies (cached per model, so the hot path is a dict lookup) ----------


def _completion_body(model: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench0001",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def _chunk(model: str, delta: dict, finish: str | None, usage: dict | None = None) -> bytes:
    choices = [] if usage else [
        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    ]
    obj = {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_bench",
        "choices": choices,
    }
    if usage:
        obj["usage"] = usage
    return _http_chunk(b"data: " + orjson.dumps(obj) + b"\n\n")


def _http_chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunked-transfer frame."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def stream_events(model: str, chunks: int, include_usage: bool) -> list[bytes]:
    """The SSE frames of one stream: role, (chunks-2) content pieces, finish, usage, DONE.

    ``chunks`` counts the chat.completion.chunk events that carry a choice, which
    is how "an 8-chunk stream" is usually meant.
    """
    words = REPLY_TEXT.split(" ")
    pieces = max(chunks - 2, 0)
    events = [_chunk(model, {"role": "assistant", "content": ""}, None)]
    for i in range(pieces):
        events.append(_chunk(model, {"content": words[i % len(words)] + " "}, None))
    events.append(_chunk(model, {}, "stop"))
    if include_usage:
        events.append(_chunk(model, {}, None, usage=USAGE))
    events.append(_http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return events


def _response(status: bytes, ctype: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + ctype
        + b"\r\ncontent-length: %d\r\nconnection: keep-alive\r\n\r\n" % len(body) + body
    )


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)
MODELS = _response(
    b"200 OK",
    b"application/json",
    orjson.dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": CREATED, "owned_by": "bench"}
                for m in ("echo-1", "echo-slow")
            ],
        }
    ),
)
HEALTH = _response(b"200 OK", b"application/json", b'{"status":"ok"}')
NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":"not found"}')
BAD_REQUEST = _response(b"400 Bad Request", b"application/json", b'{"error":"bad json"}')

_completion_cache: dict[str, bytes] = {}
_stream_cache: dict[tuple[str, bool, int], list[bytes]] = {}


def completion_response(model: str) -> bytes:
    resp = _completion_cache.get(model)
    if resp is None:
        resp = _completion_cache[model] = _response(
            b"200 OK", b"application/json", _completion_body(model)
        )
    return resp


def cached_stream(model: str, include_usage: bool, chunks: int) -> list[bytes]:
    key = (model, include_usage, chunks)
    events = _stream_cache.get(key)
    if events is None:
        events = _stream_cache[key] = stream_events(model, chunks, include_usage)
    return events


# --- protocol ----------------------------------------------------------------------------


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive connection. Requests on it are answered in order."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        # Requests that need a delay are chained so replies keep request order.
        self.pending: asyncio.Task | None = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pending is not None:
            self.pending.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        STATS.requests += 1
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        if method == b"POST" and path == b"/v1/chat/completions":
            self.chat(b"".join(self.body))
        elif method == b"GET" and path == b"/v1/models":
            self.write(MODELS)
        elif method == b"GET" and path == b"/healthz":
            self.write(HEALTH)
        elif method == b"GET" and path == b"/_bench/stats":
            self.write(_response(b"200 OK", b"application/json", STATS.as_json()))
        else:
            self.write(NOT_FOUND)

    # request handling
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def chat(self, raw: bytes) -> None:
        try:
            req = orjson.loads(raw)
            model = str(req.get("model", "echo-1"))
            stream = bool(req.get("stream"))
            include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        except (orjson.JSONDecodeError, AttributeError):
            self.write(BAD_REQUEST)
            return
        slow = stream and "slow" in model
        needs_task = self.opts.latency or self.pending is not None or (
            stream and (self.opts.chunk_delay or slow)
        )
        if not needs_task:
            # Fast path: no timers, answer inside this callback.
            if stream:
                self.write(STREAM_HEAD + b"".join(cached_stream(model, include_usage,
                                                                self.opts.chunks)))
            else:
                self.write(completion_response(model))
            return
        previous = self.pending
        self.pending = asyncio.ensure_future(
            self.answer_later(previous, model, stream, include_usage, slow)
        )

    async def answer_later(
        self, previous: asyncio.Task | None, model: str, stream: bool, include_usage: bool,
        slow: bool,
    ) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        if self.opts.latency:
            await asyncio.sleep(self.opts.latency)
        if not stream:
            self.write(completion_response(model))
        else:
            await self.stream(model, include_usage, slow)
        if self.pending is asyncio.current_task():
            self.pending = None

    async def stream(self, model: str, include_usage: bool, slow: bool) -> None:
        events = cached_stream(model, include_usage, self.opts.chunks)
        STATS.stream_opened()
        try:
            self.write(STREAM_HEAD + events[0])
            if slow:
                await asyncio.sleep(self.opts.slow_seconds)
            for event in events[1:]:
                if self.opts.chunk_delay:
                    await asyncio.sleep(self.opts.chunk_delay)
                self.write(event)
        finally:
            STATS.open_streams -= 1


# --- entry point -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before answering")
    p.add_argument("--chunks", type=int, default=8, help="chunks with a choice per stream")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0)
    p.add_argument("--slow-seconds", type=float, default=120.0,
                   help="how long a slow stream (model name contains 'slow') is held open")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    opts = Options(args)
    # A deep backlog: the 10k-stream test opens connections in bursts.
    server = await loop.create_server(
        lambda: UpstreamProtocol(opts), args.host, args.port, backlog=8192, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
