"""The I/O seam under the dispatcher: a :class:`Transport` sends one request to an
origin and returns its response. Everything above it (approval re-check, origin
check, credentials) is the dispatcher's; everything below is the transport's.

The default is :class:`HTTP1Transport`, the pooled HTTP/1.1 client of ``http1.py``;
``upstream.egress_proxy`` selects the CONNECT-tunnel transport of ``proxy.py``; tests
pass their own. A transport's own errors never travel up: they are translated here,
at this one boundary, into :class:`UpstreamFailure` (a kind, never a body).

Usage::

    transport = HTTP1Transport(connect_timeout=10, read_timeout=300)
    await transport.start()
    response = await transport.request(origin, "POST", "/v1/x", headers, body)
    try:
        body = await response.read()
    finally:
        response.release()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urlsplit

from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream import http1
from zdrgate.upstream.http1 import Origin

KEPT_HEADERS = ("retry-after", "retry-after-ms", "content-type", "x-amzn-errortype")

__all__ = ["HTTP1Transport", "Origin", "Transport", "UpstreamFailure", "UpstreamResponse"]


class UpstreamFailure(Exception):
    """An attempt failed. Carries a kind and a status, never a body."""

    def __init__(self, kind: ErrorKind, where: str, status: int | None = None) -> None:
        super().__init__(f"{where}: {kind.value}" + (f" ({status})" if status else ""))
        self.kind = kind
        self.status = status


class Body(Protocol):
    def read(self, limit: int | None = None) -> Awaitable[bytes]: ...

    def iter_chunks(self) -> AsyncIterator[bytes]: ...


@dataclass(slots=True)
class UpstreamResponse:
    """Status, the few headers the gateway keeps, and the body; read errors arrive
    as :class:`UpstreamFailure`. ``release`` gives the connection back (once)."""

    status: int
    headers: MappingProxyType[str, str]
    body: Body
    release: Callable[[], None]

    def read(self, limit: int | None = None) -> Awaitable[bytes]:
        return self.body.read(limit)

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self.body.iter_chunks()


def kept_headers(headers: Mapping[str, str]) -> MappingProxyType[str, str]:
    """The response headers the gateway reads (retry hints, type); no others travel up."""
    return MappingProxyType({k: headers[k] for k in KEPT_HEADERS if k in headers})


def address(url: str) -> tuple[Origin, str]:
    """Origin and request target of an http(s) URL already checked (a token or
    credentials endpoint from the config, an evidence page): scheme, a host."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(parts.scheme, parts.hostname, port), target


class Transport(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def request(
        self, origin: Origin, method: str, target: str,
        headers: Iterable[tuple[str, str]], body: bytes,
    ) -> UpstreamResponse:
        """Send; return when the response head has arrived. Raises UpstreamFailure."""


async def fetch(
    transport: Transport, url: str, method: str,
    headers: Iterable[tuple[str, str]], body: bytes, limit: int,
) -> tuple[int, bytes]:
    """One small request that is not a model call (a token, keys, an evidence page):
    status and at most ``limit`` bytes of body; the connection released."""
    origin, target = address(url)
    response = await transport.request(origin, method, target, headers, body)
    try:
        return response.status, await response.read(limit)
    finally:
        response.release()


class HTTP1Transport:
    """The default transport: ``http1.Client``, direct connections, pooled."""

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_body_bytes: int = http1.MAX_BODY_BYTES,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_body_bytes = max_body_bytes
        self._client: http1.Client | None = None

    def make_client(self) -> http1.Client:
        return http1.Client(
            self.connect_timeout, self.read_timeout, max_body_bytes=self.max_body_bytes
        )

    async def start(self) -> None:
        self._client = self.make_client()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def request(
        self, origin: Origin, method: str, target: str,
        headers: Iterable[tuple[str, str]], body: bytes,
    ) -> UpstreamResponse:
        client = self._client
        if client is None:
            raise RuntimeError("the transport was not started (Dispatcher.start())")
        try:
            conn, response = await client.request(origin, method, target, headers, body)
        except (http1.HTTPClientError, ValueError) as exc:
            raise translated(exc, origin.host) from exc
        # Read errors come later, from the response: the same translation, set here.
        response.translate = partial(translated, where=origin.host)
        release = partial(client.release, origin, conn)
        return UpstreamResponse(response.status, kept_headers(response.headers), response, release)


def translated(exc: Exception, where: str) -> UpstreamFailure:
    """An http1 client error as the gateway's kind of failure."""
    if isinstance(exc, (http1.ConnectTimeout, http1.ReadTimeout)):
        return UpstreamFailure(ErrorKind.TIMEOUT, where)
    if isinstance(exc, http1.ConnectFailed):
        return UpstreamFailure(ErrorKind.CONNECT_ERROR, where)
    if isinstance(exc, (http1.MalformedResponse, ValueError)):
        return UpstreamFailure(ErrorKind.PROTOCOL_ERROR, where)
    return UpstreamFailure(ErrorKind.SERVER_ERROR, where)
