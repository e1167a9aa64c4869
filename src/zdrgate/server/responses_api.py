"""``POST /v1/responses``: the OpenAI Responses API, stateless, over the one pipeline.

The request is translated to the canonical chat request by the Responses inbound
codec (``protocols/responses/inbound``) and served by the same service calls as
``/v1/chat/completions`` (policy, routing, fallbacks, limits, usage rows, receipts);
the answer is rendered as a ``response`` object or the Responses SSE events. Errors
use the OpenAI envelope. Nothing is stored: the routes that would read a stored
response (``GET``/``DELETE /v1/responses/{id}``, its ``input_items``, ``cancel``)
are storage-feature routes in the table (400 ``storage_feature_refused``).
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
from zdrgate.server.routes import state_of
from zdrgate.server.streaming import InboundRenderer, inbound_error


def responses_inbound() -> InboundCodec:
    inbound = spec_for(Protocol.RESPONSES).inbound
    assert inbound is not None  # the Responses spec declares it (tests/test_protocol_table.py)
    return inbound


async def responses(request: Request) -> Any:
    codec = responses_inbound()
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
