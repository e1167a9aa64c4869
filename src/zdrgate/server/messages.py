"""``POST /v1/messages``: the Anthropic Messages API over the one pipeline.

The request is translated to the canonical chat request and served by the same
service call as ``/v1/chat/completions`` (same policy, routing and fallbacks); the
result is rendered the Anthropic way. Every error uses Anthropic's envelope
``{"type": "error", "error": {"type", "message"}}`` with the gateway's status. The
key may come as ``x-api-key`` (what the Anthropic SDK sends) or as a bearer token
(``server.identity``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from zdrgate.errors import GatewayError
from zdrgate.limits.demand import chat_demand
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.anthropic.inbound.render import PING, MessageEvents, error_body, to_message
from zdrgate.protocols.anthropic.inbound.request import to_chat_request
from zdrgate.server.identity import principal_of
from zdrgate.server.parsing import parse_body
from zdrgate.server.receipting import Receipting
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import state_of
from zdrgate.service.events import Chunks, StreamEnd, StreamEvent, StreamFailed


def anthropic_error(error: GatewayError) -> JSONBytes:
    body = error_body(error.status, error.message, error.code)
    return JSONBytes(body, status_code=error.status)


async def messages(request: Request) -> Any:
    try:
        state = state_of(request)
        principal = principal_of(request)
        raw = await request.body()
        parsed = parse_body(MessagesRequest, raw)
        chat = to_chat_request(parsed)
        demand = chat_demand(len(raw), chat)
        receipt = Receipting(state.receipts, raw, parsed.model_fields_set, request.scope["headers"])
        if chat.stream:
            events = state.gateway.stream(chat, principal, demand)
            keepalive = state.settings.server.stream_keepalive_seconds
            renderer = AnthropicRenderer(chat.model)
            return receipt.stream(events, keepalive, renderer, MESSAGE_STOP)
        result, served = await state.gateway.chat(chat, principal, demand)
        return receipt.json(to_message(result), served)
    except GatewayError as error:
        return anthropic_error(error)


MESSAGE_STOP = b"event: message_stop\n"  # the stream's receipt goes just before it


class AnthropicRenderer:
    """Canonical stream events as Anthropic's named SSE events (``ping`` keeps alive)."""

    keepalive = PING

    def __init__(self, model: str) -> None:
        self.events = MessageEvents(model)

    def render(self, event: StreamEvent) -> list[bytes]:
        if isinstance(event, GatewayError):
            return self.events.error(event.status, event.message, event.code)
        if isinstance(event, Chunks):
            return [data for chunk in event.items for data in self.events.chunk(chunk)]
        if isinstance(event, StreamEnd):
            return self.events.done()
        if isinstance(event, StreamFailed):
            return self.events.error(502, event.message, event.kind.value)
        return []  # a late receipt: Anthropic's format has no place for comments

    def closing(self) -> list[bytes]:
        # The service always ends a stream; never end one silently all the same.
        return [] if self.events.ended else self.events.error(502, "The stream ended unexpectedly.")

    def error_response(self, error: GatewayError) -> JSONBytes:
        return anthropic_error(error)
