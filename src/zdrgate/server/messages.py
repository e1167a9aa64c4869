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

from zdrgate.catalog.model import Protocol
from zdrgate.errors import GatewayError
from zdrgate.limits.demand import chat_demand
from zdrgate.protocols import spec_for
from zdrgate.protocols.spec import InboundCodec
from zdrgate.server.identity import principal_of
from zdrgate.server.parsing import parse_body
from zdrgate.server.receipting import Receipting
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import state_of
from zdrgate.server.streaming import InboundRenderer, inbound_error


def anthropic_inbound() -> InboundCodec:
    inbound = spec_for(Protocol.ANTHROPIC).inbound
    assert inbound is not None  # the Anthropic spec declares it (tests/test_protocol_table.py)
    return inbound


def anthropic_error(error: GatewayError) -> JSONBytes:
    return inbound_error(anthropic_inbound(), error)


async def messages(request: Request) -> Any:
    codec = anthropic_inbound()
    try:
        state = state_of(request)
        principal = principal_of(request)
        raw = await request.body()
        parsed = parse_body(codec.request_model, raw)
        chat = codec.to_chat(parsed)
        demand = chat_demand(len(raw), chat)
        receipt = Receipting(state.receipts, raw, parsed.model_fields_set, request.scope["headers"])
        if chat.stream:
            events = state.gateway.stream(chat, principal, demand)
            keepalive = state.settings.server.stream_keepalive_seconds
            renderer = InboundRenderer(codec, parsed)
            return receipt.stream(events, keepalive, renderer, codec.terminator)
        result, served = await state.gateway.chat(chat, principal, demand)
        return receipt.json(codec.render(result, parsed), served)
    except GatewayError as error:
        return anthropic_error(error)
