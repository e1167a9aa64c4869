"""A small pooled HTTP/1.1 client for provider calls (asyncio transports + httptools).

Why not aiohttp here: on this machine kind aiohttp's client costs ~0.2 ms of CPU per
request on top of everything else, this costs a tenth of it (docs/decisions.md).
It does only what the dispatcher needs, on purpose:

* one request at a time per keep-alive connection, idle connections reused LIFO and
  dropped when the server closed them or after ``idle_seconds``;
* a request body always sent with ``Content-Length``; responses framed by httptools
  (``Content-Length``, chunked, or until close); gzip/deflate bodies decoded;
* bounded: a response body (after decoding, so a gzip bomb stops at the limit) over
  ``max_body_bytes`` and a head over ``MAX_HEAD_BYTES`` fail the response; repeated
  headers are joined once, at the end of the head;
* no proxies, no redirects, no cookies: the caller decides every byte that is sent;
* a connect timeout, and a read timeout = the longest silence between two bytes of a
  response, or the longest time our reader leaves a full buffer untaken (a watchdog
  checks active connections a few times per timeout): a stalled reader cannot pin
  an upstream connection;
* a reused connection that the server had already closed is retried once on a new
  connection, but only when not one byte of the response had arrived.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import NoReturn

import httptools

READ_BUFFER_HIGH = 256 * 1024  # pause reading from the socket above this many buffered bytes
MAX_IDLE_PER_ORIGIN = 128
MAX_HEAD_BYTES = 64 * 1024  # status line and headers of a response
MAX_BODY_BYTES = 128 * 1024 * 1024  # default body limit (decoded)


class HTTPClientError(Exception):
    """Base of the client's errors. Messages name a phase, never a body."""


class ConnectFailed(HTTPClientError):
    pass


class ConnectTimeout(ConnectFailed):
    pass


class ReadTimeout(HTTPClientError):
    pass


class Disconnected(HTTPClientError):
    pass


class MalformedResponse(HTTPClientError):
    pass


class ResponseTooLarge(MalformedResponse):
    pass


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return (host if self.port == default else f"{host}:{self.port}").encode("ascii")


class Response:
    """A response being received. ``status`` and ``headers`` (lower-case names) are
    set when it is returned; the body is read with :meth:`read` or :meth:`iter_chunks`."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_decoder",
        "_done",
        "_error",
        "_head",
        "_max",
        "_received",
        "_waiter",
        "headers",
        "status",
        "translate",
    )

    def __init__(self, conn: Connection, max_body: int = MAX_BODY_BYTES) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._head = False
        self._done = False
        self._error: HTTPClientError | None = None
        self._decoder: zlib._Decompress | None = None
        self._received = 0  # decoded body bytes so far
        self._max = max_body
        # Set by the caller to raise its own exception type from the body readers.
        self.translate: Callable[[HTTPClientError], Exception] | None = None

    @property
    def complete(self) -> bool:
        return self._done and self._error is None

    async def head(self) -> None:
        """Wait for the status line and headers."""
        while not self._head:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read(self, limit: int | None = None) -> bytes:
        """The body (decoded), or its first ``limit`` bytes; more is never buffered."""
        parts: list[bytes] = []
        size = 0
        async for data in self.iter_chunks():
            parts.append(data)
            size += len(data)
            if limit is not None and size >= limit:
                break
        body = b"".join(parts)
        return body if limit is None else body[:limit]

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (decoded)."""
        while True:
            while self._chunks:
                data = self._chunks.popleft()
                self._buffered -= len(data)
                self._conn.resume_if_drained(self._buffered)
                yield data
            if self._error is not None:
                self._raise()
            if self._done:
                return
            await self._wait()

    def _raise(self) -> NoReturn:
        error = self._error
        assert error is not None
        if self.translate is not None:
            raise self.translate(error) from error
        raise error

    async def _wait(self) -> None:
        self._waiter = self._conn.loop.create_future()
        await self._waiter

    # Called by the connection.

    def feed(self, data: bytes) -> None:
        if self._decoder is not None:
            try:  # never more output than the limit allows, plus one byte to notice
                data = self._decoder.decompress(data, self._max - self._received + 1)
            except zlib.error:
                self._conn.fail(MalformedResponse("undecodable body"))
                return
        self._received += len(data)
        if self._received > self._max:
            self._conn.fail(ResponseTooLarge("response body over the limit"))
            return
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            self._conn.pause_if_full(self._buffered)
            self._wake()

    def finish(self) -> None:
        if self._decoder is not None:
            tail = self._decoder.flush()
            self._received += len(tail)
            if self._received > self._max:
                self.fail(ResponseTooLarge("response body over the limit"))
                return
            if tail:
                self._chunks.append(tail)
        self._done = True
        self._wake()

    def fail(self, error: HTTPClientError) -> None:
        if not self._done:
            self._done = True
            self._error = error
            self._wake()

    def headers_done(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self._head = True
        self._set_encoding(headers.get("content-encoding", "").strip().lower())
        self._wake()

    def _set_encoding(self, encoding: str) -> None:
        if encoding in ("", "identity"):
            return
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(47 if encoding != "deflate" else 15)
            return
        self.fail(MalformedResponse("unsupported content-encoding"))

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries at most one response at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int = MAX_BODY_BYTES) -> None:
        self.loop = loop
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: Response | None = None
        self.headers: dict[str, str] = {}
        self._fields: dict[str, list[str]] = {}  # headers of the head being read
        self._head_bytes = 0
        self.served = 0  # responses completed on this connection
        self.received = False  # any byte of the current response
        self.keep_alive = False
        self.last_activity = loop.time()
        self._paused = False
        self._paused_at = 0.0

    @property
    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def start(self, payload: Iterable[bytes]) -> Response:
        assert self.transport is not None
        self.response = Response(self, self.max_body)
        self.headers = {}
        self._fields = {}
        self._head_bytes = 0
        self.received = False
        self.keep_alive = False
        self.last_activity = self.loop.time()
        self.transport.writelines(payload)
        return self.response

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()
            self.transport = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        response, self.response = self.response, None
        if response is None:
            return
        if response.status and _framed_by_close(self.headers):
            response.finish()  # no length, not chunked: the body ends with the connection
        else:
            response.fail(Disconnected("connection closed during the response"))

    def eof_received(self) -> bool:
        return False  # close the transport

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self.received = True
        self.last_activity = self.loop.time()
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, MalformedResponse):
            self.fail(MalformedResponse("malformed HTTP response"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > MAX_HEAD_BYTES:
            raise MalformedResponse("response head over the limit")
        key = name.decode("latin-1").lower()
        self._fields.setdefault(key, []).append(value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        # Repeated headers joined once here: joining as they come is quadratic.
        fields, self._fields = self._fields, {}
        self.headers = {k: v[0] if len(v) == 1 else ", ".join(v) for k, v in fields.items()}
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # informational (103 Early Hints...): the real one follows
            self.headers = {}
            self._head_bytes = 0
            return
        response = self.response
        if response is not None:
            response.headers_done(status, self.headers)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response.feed(body)

    def on_message_complete(self) -> None:
        response = self.response
        if response is not None and response.status:
            self.keep_alive = self.parser.should_keep_alive()
            self.served += 1
            self.response = None
            response.finish()

    # flow control and failure

    def stalled_since(self, deadline: float) -> bool:
        """Waiting for the upstream, or for our reader to take a full buffer, since
        before ``deadline``."""
        if self.response is None:
            return False
        return (self._paused_at if self._paused else self.last_activity) < deadline

    def pause_if_full(self, buffered: int) -> None:
        if buffered > READ_BUFFER_HIGH and not self._paused and self.transport is not None:
            self._paused = True
            self._paused_at = self.loop.time()
            self.transport.pause_reading()

    def resume_if_drained(self, buffered: int) -> None:
        if self._paused and buffered <= READ_BUFFER_HIGH // 4 and self.transport is not None:
            self._paused = False
            self.last_activity = self.loop.time()
            self.transport.resume_reading()

    def fail(self, error: HTTPClientError) -> None:
        response, self.response = self.response, None
        self.close()
        if response is not None:
            response.fail(error)


def _framed_by_close(headers: dict[str, str]) -> bool:
    return "content-length" not in headers and "chunked" not in headers.get(
        "transfer-encoding", ""
    ).lower()


class Client:
    """Pooled keep-alive connections per origin. One instance per event loop."""

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        idle_seconds: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.idle_seconds = idle_seconds
        self._ssl = ssl_context
        self._idle: dict[Origin, list[tuple[float, Connection]]] = {}
        self._active: set[Connection] = set()
        self._watchdog: asyncio.TimerHandle | None = None

    async def request(
        self, origin: Origin, method: str, target: str,
        headers: Iterable[tuple[str, str]], body: bytes,
    ) -> tuple[Connection, Response]:
        """Send a request; returns when the response's head has arrived.
        The caller must pass the connection to :meth:`release` when done."""
        payload = (_head(origin, method, target, headers, len(body)), body)
        conn = self._take_idle(origin)
        if conn is not None:
            try:
                return conn, await self._exchange(conn, payload)
            except Disconnected:
                if conn.received:  # the server answered something: not a stale connection
                    self.release(origin, conn)
                    raise
            except BaseException:
                self.release(origin, conn)
                raise
            self.release(origin, conn)
        conn = await self._connect(origin)
        try:
            return conn, await self._exchange(conn, payload)
        except BaseException:
            self.release(origin, conn)
            raise

    def release(self, origin: Origin, conn: Connection) -> None:
        """Return a connection after its response: pooled if it can serve another."""
        self._active.discard(conn)
        if conn.response is None and conn.keep_alive and conn.usable:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append((conn.loop.time(), conn))
                return
        conn.close()

    async def close(self) -> None:
        for idle in self._idle.values():
            for _, conn in idle:
                conn.close()
        self._idle.clear()
        for conn in self._active:
            conn.close()
        self._active.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _exchange(self, conn: Connection, payload: tuple[bytes, bytes]) -> Response:
        self._active.add(conn)
        self._arm_watchdog(conn.loop)
        response = conn.start(payload)
        await response.head()
        return response

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        loop = idle[-1][1].loop
        oldest = loop.time() - self.idle_seconds
        while idle:
            since, conn = idle.pop()
            if since >= oldest and conn.usable:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: Origin) -> Connection:
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, self.max_body_bytes), origin.host, origin.port,
                    ssl=tls, server_hostname=origin.host if tls else None,
                )
        except TimeoutError as exc:
            raise ConnectTimeout("connect timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"connect failed: {type(exc).__name__}") from exc
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._watchdog is None:
            tick = min(1.0, self.read_timeout / 4)
            self._watchdog = loop.call_later(tick, self._check_silence, loop, tick)

    def _check_silence(self, loop: asyncio.AbstractEventLoop, tick: float) -> None:
        self._watchdog = None
        deadline = loop.time() - self.read_timeout
        for conn in [c for c in self._active if c.stalled_since(deadline)]:
            self._active.discard(conn)
            conn.fail(ReadTimeout("no progress within the read timeout"))
        if self._active:
            self._watchdog = loop.call_later(tick, self._check_silence, loop, tick)


def _head(
    origin: Origin, method: str, target: str, headers: Iterable[tuple[str, str]], length: int
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header.decode()}"]
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError("header name or value with a line break")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {length}")
    lines.append("Accept-Encoding: gzip, deflate")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
