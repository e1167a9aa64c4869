"""The one seam where responses get their signed receipt (docs/proofs.md).

Usage in a route::

    receipt = Receipting(state.receipts, body, request.model_fields_set, scope_headers)
    return receipt.json(result, served)                      # a plain response
    return receipt.stream(events, keepalive, OpenAIRenderer(include_usage), DONE)   # a stream

A plain response carries ``ZDR-Receipt: <jws>`` whose ``res`` is the sha256 of the
exact body bytes sent. A stream's headers carry a receipt of the decision (``res``
null); its last receipt is an SSE comment ``: zdr-receipt=<jws>`` just before the
terminator (``data: [DONE]``, Anthropic's ``message_stop`` event, or the Responses
API's final ``response.completed`` / ``.incomplete`` / ``.failed`` event), and its ``res``
covers every body byte sent before that line, keep-alives included.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from zdrgate.errors import GatewayError
from zdrgate.receipts import ReceiptFacts, ReceiptSigner, digest, new_request_id, stripped
from zdrgate.server.responses import JSONBytes
from zdrgate.server.streaming import Renderer, StreamReply
from zdrgate.service.events import Chunks, Committed, StreamEvent
from zdrgate.service.served import Served

HEADER = "zdr-receipt"
Terminator = bytes | tuple[bytes, ...]  # the last event, or each way a stream can end


def facts_of(served: Served) -> ReceiptFacts:
    endpoint = served.endpoint
    return ReceiptFacts(
        model=endpoint.model_id,
        endpoint=served.endpoint_id,
        provider=endpoint.provider.id,
        region=endpoint.region,
        policy=served.policy_digest,
        verified_on=served.verified_on,
        retention_days=endpoint.policy.retention_days,
        origin=served.origin,
    )


class Receipting:
    """The receipt of one request, from its body as received."""

    __slots__ = ("req", "request_id", "signer", "stripped")

    def __init__(
        self,
        signer: ReceiptSigner,
        body: bytes,
        fields: Iterable[str],
        headers: Iterable[tuple[bytes, bytes]],
    ) -> None:
        self.signer = signer
        self.request_id = new_request_id()
        self.req = digest(body)
        self.stripped = stripped(fields, headers)

    def sign(self, served: Served, res: str | None) -> str:
        return self.signer.sign(self.request_id, facts_of(served), self.stripped, self.req, res)

    def json(self, content: Any, served: Served) -> JSONBytes:
        """A 200 JSON response with the receipt headers, signed over its body bytes."""
        reply = JSONBytes(content, headers=served.headers())
        token = self.sign(served, digest(reply.body))
        reply.raw_headers.append((HEADER.encode(), token.encode("ascii")))
        return reply

    def stream(
        self,
        events: AsyncGenerator[StreamEvent, None],
        keepalive: float,
        renderer: Renderer,
        terminator: Terminator,
    ) -> StreamReceipt:
        return StreamReceipt(self, events, keepalive, renderer, terminator)


class StreamReceipt:
    """A :class:`StreamReply` whose body bytes are hashed as they are sent, with the
    receipt line put before the terminator the renderer writes at the end."""

    def __init__(
        self,
        receipting: Receipting,
        events: AsyncGenerator[StreamEvent, None],
        keepalive: float,
        renderer: Renderer,
        terminator: Terminator,
    ) -> None:
        self.receipting = receipting
        self.served: Served | None = None
        self.hash = hashlib.sha256()
        ending = _Ending(self, renderer, terminator)
        self.reply = StreamReply(self._watched(events), keepalive, ending)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def hashed(message: Message) -> None:
            if message["type"] == "http.response.body":
                self.hash.update(message.get("body", b""))
            elif self.served is not None:  # the start, after the decision: say so
                token = self.receipting.sign(self.served, None)
                message["headers"] = [*message["headers"], (HEADER.encode(), token.encode())]
            await send(message)

        await self.reply(scope, receive, hashed)

    async def _watched(
        self, events: AsyncGenerator[StreamEvent, None]
    ) -> AsyncGenerator[StreamEvent, None]:
        try:
            async for event in events:
                if type(event) is Committed:
                    self.served = event.served
                yield event
        finally:
            await events.aclose()

    def final_line(self, before: bytes) -> bytes:
        """The receipt comment over everything sent so far plus ``before``."""
        assert self.served is not None
        covered = self.hash.copy()
        covered.update(before)
        token = self.receipting.sign(self.served, "sha256:" + covered.hexdigest())
        return b": " + HEADER.encode() + b"=" + token.encode("ascii") + b"\n\n"


class _Ending:
    """Wraps a renderer: chunks pass as they are; in the last event's bytes, the
    receipt line goes just before the terminator."""

    def __init__(self, owner: StreamReceipt, inner: Renderer, terminator: Terminator) -> None:
        self.owner = owner
        self.inner = inner
        self.terminators = (terminator,) if isinstance(terminator, bytes) else terminator
        self.keepalive = inner.keepalive

    def render(self, event: StreamEvent) -> list[bytes]:
        pieces = self.inner.render(event)
        if type(event) is Chunks or self.owner.served is None:
            return pieces
        return self._with_receipt(pieces)

    def _with_receipt(self, pieces: list[bytes]) -> list[bytes]:
        joined = b"".join(pieces)
        found = [i for t in self.terminators if (i := joined.find(t)) >= 0]
        at = min(found, default=-1)
        if at < 0 or (at > 0 and joined[at - 1 : at] != b"\n"):
            return pieces
        return [joined[:at], self.owner.final_line(joined[:at]), joined[at:]]

    def closing(self) -> list[bytes]:
        pieces = self.inner.closing()
        return self._with_receipt(pieces) if pieces and self.owner.served else pieces

    def error_response(self, error: GatewayError) -> JSONBytes:
        return self.inner.error_response(error)

