"""The outermost ASGI app: authentication, body limit, the last-resort error guard,
and the hot path.

Every HTTP request passes here first. A request under ``/v1/`` is authenticated from
its headers before a byte of its body is read (``server.identity``); the caller is
put in the scope for the routes. The body is counted against
``server.max_body_bytes`` (a declared ``Content-Length`` over it is refused before
anything is read) and any unexpected exception becomes a 500 envelope; only the
exception's type and the route template are logged, since its message or traceback
could quote a prompt or an upstream body (and the raw path is the client's to choose).
With a durable usage recorder, a response's bytes wait for its usage row
(:func:`~zdrgate.accounts.usage.rows_first`).

The routes the table marks :class:`FastRoute` (``POST /v1/chat/completions``, the
request nearly all traffic is) go straight to their handler, after authentication;
Starlette's request object, routing and exception middleware would add
a third of what the rest of the route costs (docs/decisions.md). Every other
request, including other methods on that path, goes to the Starlette app. With
Redis, a model-serving request's error may be run again under a fresh identity
(``server.stale``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zdrgate.accounts.auth import AuthBlocked
from zdrgate.accounts.usage import rows_first
from zdrgate.errors import BodyTooLarge, GatewayError
from zdrgate.server.identity import (
    PRINCIPAL,
    admission_reads_epoch,
    header,
    identify,
    needs_identity,
)
from zdrgate.server.messages import anthropic_error
from zdrgate.server.responses import JSONBytes, error_response
from zdrgate.server.routes import state_of
from zdrgate.server.stale import Recheckable
from zdrgate.server.state import AppState

log = logging.getLogger("zdrgate.server")
MESSAGES_PATH = "/v1/messages"
FastHandler = Callable[[AppState, Scope, bytes], Awaitable[ASGIApp]]


class FastRoute(Route):
    """A route the front app serves itself, without Starlette's request, routing and
    exception middleware (the hot path). It is in the route table like any route, so
    405s, the OpenAPI description and the route tests see it; the front app finds
    it there. Without the front app, Starlette serves it through the same handler.

    Usage (in the table)::

        FastRoute("/v1/chat/completions", routes.chat_completions, methods=["POST"])
    """

    def __init__(self, path: str, handler: FastHandler, methods: list[str]) -> None:
        self.fast = handler

        async def endpoint(request: Request) -> ASGIApp:
            return await handler(state_of(request), request.scope, await request.body())

        endpoint.__name__ = handler.__name__
        super().__init__(path, endpoint, methods=methods)


class Front:
    def __init__(self, app: Starlette, state: AppState) -> None:
        self.app = app
        self.state = state
        self.max_bytes = state.settings.server.max_body_bytes
        self.rows_first = state.gateway.usage.durable
        self.fast: dict[tuple[str, str], FastHandler] = {
            (method, route.path): route.fast
            for route in app.routes
            if isinstance(route, FastRoute)
            for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.rows_first:  # storage.usage_flush_seconds = 0: see zdrgate.accounts.usage
            send = rows_first(send)
        try:
            path = scope["path"]
            if needs_identity(path):
                try:
                    scope[PRINCIPAL] = await identify(self.state, scope)
                except GatewayError as error:
                    await refusal(path, error)(scope, receive, send)
                    return
            handler = self.fast.get((scope["method"], path))
            if needs_identity(path) and admission_reads_epoch(self.state, scope):
                await self._recheckable(handler, scope, receive, send)
            elif handler is not None:
                await self._fast(handler, scope, receive, send)
            else:
                await self.app(scope, self._limited(scope, receive), send)
        except Exception as exc:
            log.error("unexpected %s on %s", type(exc).__name__, route_label(self.app, scope))
            # The server refuses a second response start (RuntimeError): if the response
            # had begun, the client sees it cut short, which is all that can be done.
            with contextlib.suppress(RuntimeError):
                await _internal_error(send)

    async def _fast(
        self, handler: FastHandler, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            body = await read_body(self._limited(scope, receive))
            reply = await handler(self.state, scope, body)
        except GatewayError as error:
            reply = error_response(error)
        await reply(scope, receive, send)

    async def _recheckable(
        self, handler: FastHandler | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """A model-serving request identified under the last epoch seen (server.stale):
        its body is read first, so that it can run again under a fresh identity."""
        try:
            body = await read_body(self._limited(scope, receive))
        except GatewayError as error:
            await refusal(scope["path"], error)(scope, receive, send)
            return

        async def run(replayed: Receive, out: Send) -> None:
            if handler is None:
                await self.app(scope, replayed, out)
                return
            try:
                reply = await handler(self.state, scope, body)
            except GatewayError as error:
                reply = error_response(error)
            await reply(scope, replayed, out)

        refused = await Recheckable(self.state, scope, body, receive).serve(run, send)
        if refused is not None:
            await refusal(scope["path"], refused)(scope, receive, send)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.max_bytes
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _refuse(limit)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(limit)
            return message

        return counted


def route_label(app: ASGIApp, scope: Scope) -> str:
    """The route a request matched, as its template (``/v1/models/{author}/{slug}``),
    never the raw path: a client chooses those bytes, line breaks included, and a log
    line must not carry them."""
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(route.path)
    return "an unknown route"


def refusal(path: str, error: GatewayError) -> JSONBytes:
    """A refused authentication, in the envelope of the API that was called."""
    headers = {"retry-after": str(error.retry_after)} if isinstance(error, AuthBlocked) else None
    if path == MESSAGES_PATH:
        reply = anthropic_error(error)
        if headers:
            reply.raw_headers.append((b"retry-after", headers["retry-after"].encode()))
        return reply
    return error_response(error, headers)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"Request body is larger than the limit of {limit} bytes.")


def _refuse(limit: int) -> Receive:
    async def receive() -> Message:
        raise too_large(limit)

    return receive


async def _internal_error(send: Send) -> None:
    body = orjson.dumps(GatewayError("The gateway hit an internal error.").envelope())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
