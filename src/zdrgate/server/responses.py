"""JSON and error responses (orjson), as plain ASGI callables.

Starlette's ``Response`` would do the same with more steps (header normalisation,
background tasks, ranges) that no zdrgate response uses; this is on every request.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from zdrgate.errors import GatewayError


class JSONBytes:
    __slots__ = ("body", "raw_headers", "status_code")

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.body = orjson.dumps(content)
        self.status_code = status_code
        self.raw_headers = [
            (b"content-length", b"%d" % len(self.body)),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})


def error_response(error: GatewayError, headers: Mapping[str, str] | None = None) -> JSONBytes:
    return JSONBytes(error.envelope(), status_code=error.status, headers=headers or error.headers)


GZIP_MIN_BYTES = 16 * 1024


def gzipped_json(content: Any, accept_encoding: str | None) -> JSONBytes:
    """A JSON reply, gzip-compressed when the client accepts it and it is large (the
    model list of the whole catalog is ~250 KB, ~25 KB compressed: the web app's
    first load). Only catalog data goes through here, never content."""
    reply = JSONBytes(content)
    if "gzip" not in (accept_encoding or "") or len(reply.body) < GZIP_MIN_BYTES:
        return reply
    reply.body = gzip.compress(reply.body, 5, mtime=0)
    reply.raw_headers = [
        (b"content-length", b"%d" % len(reply.body)),
        (b"content-type", b"application/json"),
        (b"content-encoding", b"gzip"),
        (b"vary", b"accept-encoding"),
    ]
    return reply
