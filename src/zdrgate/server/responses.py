"""JSON and error responses (orjson), as plain ASGI callables.

Starlette's ``Response`` would do the same with more steps (header normalisation,
background tasks, ranges) that no zdrgate response uses; this is on every request.
"""

from __future__ import annotations

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

