"""HTTPS through an operator's egress proxy, by HTTP ``CONNECT`` only.

Some networks let nothing out except through a proxy. With ``upstream.egress_proxy``
set (off by default), every https upstream connection is a ``CONNECT host:port``
tunnel through that proxy, and TLS runs inside it end to end between the gateway and
the provider, the certificate checked against the provider's host name: the proxy
sees which host is called, never a header, a key or a byte of content. The proxy is
never asked to forward a plain request. Plain-http upstreams (which the policy allows
only for loopback and private self-hosted endpoints) are connected directly.

Usage::

    transport = ProxyTransport("http://proxy.internal:3128", connect_timeout=10)
    dispatcher = Dispatcher(transport=transport)
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from urllib.parse import unquote, urlsplit

from zdrgate.upstream import http1
from zdrgate.upstream.http1 import ConnectFailed, ConnectTimeout, Origin
from zdrgate.upstream.transport import HTTP1Transport

MAX_PROXY_HEAD = 16 * 1024  # a CONNECT answer is a status line and a few headers
_TUNNEL_ERRORS = (OSError, ssl.SSLError)


class ProxyTransport(HTTP1Transport):
    """The pooled HTTP/1.1 transport, its https connections tunnelled by CONNECT."""

    def __init__(
        self,
        proxy_url: str,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        max_body_bytes: int = http1.MAX_BODY_BYTES,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(connect_timeout, read_timeout, max_body_bytes)
        self.proxy, self.proxy_auth = parse_proxy(proxy_url)
        self._ssl = ssl_context

    def make_client(self) -> http1.Client:
        return TunnelClient(self.proxy, self.proxy_auth, self, self._ssl)


def parse_proxy(url: str) -> tuple[Origin, str | None]:
    """The proxy's origin and its ``Proxy-Authorization`` value (from user:password)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError("an egress proxy is an http://host:port URL (it carries CONNECT)")
    auth = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return Origin("http", parts.hostname, parts.port or 80), auth


class TunnelClient(http1.Client):
    def __init__(
        self,
        proxy: Origin,
        proxy_auth: str | None,
        limits: HTTP1Transport,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(
            limits.connect_timeout,
            limits.read_timeout,
            ssl_context=ssl_context,
            max_body_bytes=limits.max_body_bytes,
        )
        self.proxy = proxy
        self.proxy_auth = proxy_auth

    async def _connect(self, origin: Origin) -> http1.Connection:
        if origin.scheme != "https":
            return await super()._connect(origin)
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await self._tunnel(origin)
        except TimeoutError as exc:
            raise ConnectTimeout("connect through the egress proxy timed out") from exc
        except _TUNNEL_ERRORS as exc:
            raise ConnectFailed(f"tunnel failed: {type(exc).__name__}") from exc

    async def _tunnel(self, origin: Origin) -> http1.Connection:
        loop = asyncio.get_running_loop()
        raw, opener = await loop.create_connection(_Opener, self.proxy.host, self.proxy.port)
        try:
            raw.write(connect_request(origin, self.proxy_auth))
            head = await opener.head
            status = head.split(b" ", 2)[1] if b" " in head else b""
            if not head.startswith(b"HTTP/1.") or status != b"200":
                raise ConnectFailed(f"the egress proxy refused the tunnel ({status[:3]!r})")
            conn = http1.Connection(loop)
            tls = await loop.start_tls(raw, conn, self._ssl_context(), server_hostname=origin.host)
        except BaseException:
            raw.abort()
            raise
        if tls is None:
            raise ConnectFailed("TLS inside the tunnel did not start")
        conn.connection_made(tls)
        return conn


class _Opener(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT; after it, TLS takes the connection over.
    (A stream writer would close the socket when collected: a plain protocol.)"""

    def __init__(self) -> None:
        self.head: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if not self.head.done() and (end >= 0 or len(self._buffer) > MAX_PROXY_HEAD):
            if end < 0 or end + 4 != len(self._buffer):  # too long, or bytes beyond it
                self.head.set_exception(ConnectFailed("the egress proxy's answer is malformed"))
            else:
                self.head.set_result(self._buffer)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ConnectFailed("the egress proxy closed the connection"))


def connect_request(origin: Origin, proxy_auth: str | None) -> bytes:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    authority = f"{host}:{origin.port}"  # CONNECT always names the port
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy_auth:
        lines.append(f"Proxy-Authorization: {proxy_auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
