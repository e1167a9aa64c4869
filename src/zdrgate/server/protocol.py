"""uvicorn's httptools protocol, with the writes of one loop iteration sent together.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and the body as a second write: two ``send`` system calls
and two wake-ups of the client per response. Here a head is held back until the
next write (the body, nearly always in the same event-loop iteration) or the end of
that iteration, whichever comes first; every other write goes straight through.
No byte on the wire changes. Measured on the bare floor proxy: 20 to 30 µs less CPU
per request (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps a transport; a response head waits for the next write."""

    __slots__ = ("_loop", "_pending", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        if data.startswith(b"HTTP/1.1 "):  # a response head: hold it for its body
            self._pending.append(data)
            if not self._scheduled:
                self._scheduled = True
                self._loop.call_soon(self._flush_soon)
        elif self._pending:
            self._pending.append(data)
            self.flush()
        else:
            self._transport.write(data)

    def _flush_soon(self) -> None:
        self._scheduled = False
        self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        wrapped = CoalescingTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        super().connection_made(wrapped)  # type: ignore[arg-type]
