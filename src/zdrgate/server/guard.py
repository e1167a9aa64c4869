"""What one client connection may take: uvicorn's protocol with the limits it lacks.

uvicorn reads a request head and body for as long as the client cares to trickle
them (slowloris), waits forever for a client that does not read its response, takes
heads of any size and accepts requests without a ``Host``. Here, on top of the
coalescing protocol (``server.protocol``):

* a request's head and body must arrive within ``request_timeout`` of its first byte
  (for the first request of a connection: of the connection), else 408 and close;
* a response the client leaves unread for ``write_timeout`` closes the connection,
  so a paused reader cannot hold a stream, and its upstream connection, forever;
* a request line and headers over ``max_header_bytes`` are a 431; a missing, repeated
  or malformed ``Host`` is a 400; the parser's own refusals (``Content-Length`` with
  ``Transfer-Encoding``, two lengths, obs-fold, bad framing) are a 400.

Every refusal is an OpenAI error envelope with ``Connection: close``. The number of
connections is capped by uvicorn (``limit_concurrency``: 503 past it).

Usage (a partial, so that worker processes can unpickle it)::

    uvicorn.run(app, http=functools.partial(GuardedHttpToolsProtocol, limits=limits))
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import orjson

from zdrgate.server.protocol import CoalescingHttpToolsProtocol

_HOST = re.compile(rb"(?:[A-Za-z0-9\-._~%!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The ``[server]`` settings that bound one connection (docs/configuration.md)."""

    request_timeout: float = 30.0
    write_timeout: float = 60.0
    max_header_bytes: int = 32 * 1024


class HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a refused request."""


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._head_bytes = 0
        self._read_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_read()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read()
        self._cancel_write()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # after a refusal, nothing more is parsed
            super().data_received(data)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.write_timeout, self._abort)

    def resume_writing(self) -> None:
        self._cancel_write()
        super().resume_writing()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's plain-text 400 for whatever the parser refused (its ``msg`` is fixed).
        self._refuse(400, "The request is not valid HTTP/1.1.", code="invalid_http")

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._arm_read()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        problem = host_problem(self.headers, self.parser.get_http_version())
        if problem is not None:
            self._refuse(400, problem, code="invalid_host")
            raise HeadRefused(problem)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_read()
        super().on_message_complete()

    # limits

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            message = f"The request line and headers are larger than {limit} bytes."
            self._refuse(431, message, code="headers_too_large")
            raise HeadRefused(message)

    def _arm_read(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.limits.request_timeout, self._timed_out)

    def _cancel_read(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _cancel_write(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.cycle is not None and self.cycle.response_started:
            self._abort()  # the app answered already: closing is all that is left
        else:
            self._refuse(408, "The request was not received in time.", code="request_timeout")

    def _abort(self) -> None:
        self._write_timer = None
        if not self.transport.is_closing():
            self.transport.abort()

    def _refuse(self, status: int, message: str, code: str) -> None:
        """Answer with an error envelope and close, whatever state the request is in."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._cancel_read()
        if self.cycle is not None:  # an app still reading this request sees a disconnect
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(refusal(status, message, code))
        self.transport.close()


def refusal(status: int, message: str, code: str) -> bytes:
    """A complete ``Connection: close`` response carrying an OpenAI error envelope."""
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    body = orjson.dumps({"error": error})
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def host_problem(headers: list[tuple[bytes, bytes]], http_version: str) -> str | None:
    """Why a request's ``Host`` is refused (RFC 9112 §3.2), or None.

    >>> host_problem([(b"host", b"api.example:8080")], "1.1") is None
    True
    >>> host_problem([], "1.1")
    'The request has no Host header.'
    """
    hosts = [value for name, value in headers if name == b"host"]
    if len(hosts) > 1:
        return "The request has more than one Host header."
    if not hosts:
        return "The request has no Host header." if http_version == "1.1" else None
    if not _HOST.fullmatch(hosts[0]):
        return "The Host header is not a valid host."
    return None
