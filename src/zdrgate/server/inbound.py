"""One handler for every inbound API that zdrgate serves besides OpenAI chat
(``/v1/messages``, ``/v1/responses``): the protocol's inbound codec translates the
request to the canonical chat request, the same service calls as
``/v1/chat/completions`` serve it (policy, routing, fallbacks, limits, usage rows,
receipts), and the codec renders the answer, its stream events and its errors."""

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
from zdrgate.server.routes import state_of
from zdrgate.server.streaming import InboundRenderer, inbound_error


def inbound_codec(protocol: Protocol) -> InboundCodec:
    inbound = spec_for(protocol).inbound
    assert inbound is not None  # its spec declares one (tests/test_protocol_table.py)
    return inbound


async def serve_inbound(codec: InboundCodec, request: Request) -> Any:
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
        return inbound_error(codec, error)
