"""``zdrgate egress-proxy``: a CONNECT-only proxy that opens tunnels to listed hosts only.

Kubernetes NetworkPolicy cannot name hosts. So the gateway's pods may reach only DNS,
their datastores and this proxy (``upstream.egress_proxy``); the proxy's pods may
reach public addresses on 443, and it tunnels only to ``host:port`` pairs on its
allowlist: the provider hosts the configured catalog can route to
(:func:`zdrgate.egress.egress_hosts`, computed from the same config at start).

The proxy sees a host name and TLS records, never a header, a key or a byte of
content (TLS runs end to end between the gateway and the provider). It answers
``405`` to anything but ``CONNECT``, ``403`` to a host not on the list, ``502`` when
the host cannot be reached; it logs refusals by host name only (a host is not content).

Usage::

    proxy = EgressProxy([("api.groq.com", 443)])
    server = await proxy.start("0.0.0.0", 3128)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable

log = logging.getLogger("zdrgate.egress")
MAX_HEAD = 8 * 1024
_HEAD_TIMEOUT = 10.0
_CONNECT_TIMEOUT = 10.0
_CHUNK = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9.:\[\]-]")  # a log line gets a host name, nothing else


class EgressProxy:
    def __init__(
        self, allowed: Iterable[tuple[str, int]], connect_timeout: float = _CONNECT_TIMEOUT
    ) -> None:
        self.allowed = frozenset((host.lower(), port) for host, port in allowed)
        self.connect_timeout = connect_timeout

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await self._target(reader, writer)
            if target is not None:
                await self._tunnel(target, reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.LimitOverrunError:
            await _answer(writer, b"431 Request Header Fields Too Large")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _target(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int] | None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _HEAD_TIMEOUT)
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) != 3 or parts[0] != b"CONNECT":
            await _answer(writer, b"405 Method Not Allowed")
            return None
        host, _, port = parts[1].decode("ascii", "replace").rpartition(":")
        target = (host.strip("[]").lower(), int(port) if port.isdigit() else -1)
        if target not in self.allowed:
            shown = _UNSAFE.sub("?", parts[1].decode("ascii", "replace"))[:260]
            log.warning("egress refused: %s is not on the allowlist", shown)
            await _answer(writer, b"403 Forbidden")
            return None
        return target

    async def _tunnel(
        self,
        target: tuple[str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*target), self.connect_timeout
            )
        except (OSError, TimeoutError):
            await _answer(writer, b"502 Bad Gateway")
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _answer(writer: asyncio.StreamWriter, status: bytes) -> None:
    writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def serve_forever(allowed: Iterable[tuple[str, int]], host: str, port: int) -> None:
    server = await EgressProxy(allowed).start(host, port)
    async with server:
        await server.serve_forever()
