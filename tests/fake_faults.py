"""A faulty OpenAI-protocol upstream on 127.0.0.1, written on raw sockets.

aiohttp's server cannot misbehave on purpose (reset a connection, lie about a length,
stream forever), so this one speaks HTTP/1.1 by hand. The upstream model id the
gateway sends picks the fault:

- ``hang_head``: reads the request, never answers (until the gateway gives up);
- ``reset``: reads the request, then resets the connection (RST, no response);
- ``rate429``: 429 with ``Retry-After: 7``; ``overloaded529``: 529;
- ``bad_json`` / ``truncated_json``: a 200 whose body is not JSON / shorter than its
  ``Content-Length`` before the connection closes;
- ``endless_json``: a 200 declaring 10 GB, zeros until the gateway hangs up;
- streams (``stream: true``): ``stall`` (one chunk, then silence), ``reset_mid`` (one
  chunk, then RST), ``bad_sse`` (an event that is not JSON first), ``bad_sse_mid`` (one
  chunk, then one that is not JSON), ``truncated_sse`` (one chunk, then a clean end
  without ``finish_reason`` or ``[DONE]``), ``drip`` (a whole answer, a few bytes at a
  time), ``endless`` (valid chunks until the gateway hangs up);
- anything else: a normal completion (``ok``).

``sent[mode]`` counts body bytes the kernel accepted, so a test can assert that the
gateway stopped reading, in bytes rather than in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
from collections import Counter
from typing import Any

TEN_GB = 10 * 1024**3


def chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    event = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fault",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


COMPLETION = json.dumps(
    {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "fault",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fine"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()
WHOLE_STREAM = chunk("one ") + chunk("two ") + chunk(None, "stop") + b"data: [DONE]\n\n"


class FaultyUpstream:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.sent: Counter[str] = Counter()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._closing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, mode: str | None = None) -> int:
        return sum(1 for r in self.requests if mode in (None, r.get("model")))

    def start(self) -> FaultyUpstream:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None and self._closing is not None
            self._server.close()
            self._closing.set()
            for writer in self._writers:
                writer.transport.abort()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=5)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> int:
        self._closing = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        try:
            while True:
                body = await _read_request(reader)
                if body is None:
                    return
                self.requests.append(body)
                if not await self._answer(str(body.get("model")), bool(body.get("stream")), writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)  # type: ignore[arg-type]
            if not writer.is_closing():
                writer.close()

    async def _silence(self) -> None:
        """Say nothing for a minute, or until the fake stops."""
        assert self._closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), 60)

    async def _answer(self, mode: str, stream: bool, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is done."""
        if mode == "hang_head":
            await self._silence()
            return False
        if mode in ("reset", "reset_mid"):
            if mode == "reset_mid":
                await self._head(writer, stream=True)
                await self._write(writer, mode, chunk("one "))
            _reset(writer)
            return False
        if mode in ("rate429", "overloaded529"):
            status = 429 if mode == "rate429" else 529
            body = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
            extra = "Retry-After: 7\r\n" if status == 429 else ""
            writer.write(_head_bytes(status, len(body), extra) + body)
            await writer.drain()
            return True
        if not stream:
            return await self._whole(mode, writer)
        return await self._stream(mode, writer)

    async def _whole(self, mode: str, writer: asyncio.StreamWriter) -> bool:
        if mode == "bad_json":
            body = b"{this is not json"
            writer.write(_head_bytes(200, len(body)) + body)
        elif mode == "truncated_json":
            writer.write(_head_bytes(200, len(COMPLETION)) + COMPLETION[:20])
            await writer.drain()
            return False
        elif mode == "endless_json":
            writer.write(_head_bytes(200, TEN_GB))
            zeros = bytes(65536)
            for _ in range(TEN_GB // len(zeros)):
                await self._write(writer, mode, zeros)
            return False
        else:
            writer.write(_head_bytes(200, len(COMPLETION)) + COMPLETION)
        await writer.drain()
        return True

    async def _stream(self, mode: str, writer: asyncio.StreamWriter) -> bool:
        await self._head(writer, stream=True)
        if mode == "bad_sse":
            await self._write(writer, mode, b"data: {not json\n\n")
        elif mode == "bad_sse_mid":
            await self._write(writer, mode, chunk("one "))
            await asyncio.sleep(0.2)  # a read of its own: the stream has started by then
            await self._write(writer, mode, b"data: {not json\n\n")
        elif mode == "stall":
            await self._write(writer, mode, chunk("one "))
            await self._silence()
        elif mode == "truncated_sse":
            await self._write(writer, mode, chunk("one "))
        elif mode == "drip":
            for start in range(0, len(WHOLE_STREAM), 16):
                await self._write(writer, mode, WHOLE_STREAM[start : start + 16])
                await asyncio.sleep(0.005)
        elif mode == "endless":
            piece = chunk("more " * 200)
            for _ in range(TEN_GB // len(piece)):
                await self._write(writer, mode, piece)
        else:
            await self._write(writer, mode, WHOLE_STREAM)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _head(self, writer: asyncio.StreamWriter, *, stream: bool) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        await writer.drain()

    async def _write(self, writer: asyncio.StreamWriter, mode: str, data: bytes) -> None:
        framed = data if mode == "endless_json" else b"%x\r\n%s\r\n" % (len(data), data)
        writer.write(framed)
        await writer.drain()
        self.sent[mode] += len(data)


async def _read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = json.loads(await reader.readexactly(length)) if length else {}
    return body if isinstance(body, dict) else {}


def _head_bytes(status: int, length: int, extra: str = "") -> bytes:
    reason = {200: "OK", 429: "Too Many Requests", 529: "Overloaded"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
