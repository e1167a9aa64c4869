"""The outermost safety net: any unexpected exception becomes a 500 envelope.

Only the exception's type is logged. Its message and traceback are not: either
could quote a prompt or an upstream body.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zdrgate.errors import GatewayError

log = logging.getLogger("zdrgate.server")


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("unexpected %s on %s", type(exc).__name__, scope.get("path", "?"))
            if not started:
                await _internal_error(send)


async def _internal_error(send: Send) -> None:
    body = orjson.dumps(GatewayError("The gateway hit an internal error.").envelope())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
