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
from zdrgate.protocols.spec import InboundCodec
from zdrgate.server.inbound import inbound_codec, serve_inbound
from zdrgate.server.responses import JSONBytes
from zdrgate.server.streaming import inbound_error


def anthropic_inbound() -> InboundCodec:
    return inbound_codec(Protocol.ANTHROPIC)


def anthropic_error(error: GatewayError) -> JSONBytes:
    return inbound_error(anthropic_inbound(), error)


async def messages(request: Request) -> Any:
    return await serve_inbound(anthropic_inbound(), request)
