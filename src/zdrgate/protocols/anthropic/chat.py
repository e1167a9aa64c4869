"""The Anthropic Messages protocol (``POST {base}/messages``).

Translation lives in three modules: :mod:`.request` (canonical request ->
Messages body), :mod:`.response` (message -> ``chat.completion``) and
:mod:`.stream` (SSE -> chunks). The dispatcher adds ``x-api-key``; the
codec adds ``anthropic-version``.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.anthropic.request import request_body
from zdrgate.protocols.anthropic.response import parse_message
from zdrgate.protocols.anthropic.stream import AnthropicStreamDecoder
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import ChatRequest

API_VERSION = "2023-06-01"


class AnthropicChat:
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        body = encode(request_body(endpoint, request))
        accept = "text/event-stream" if request.stream else "application/json"
        headers = (
            ("content-type", "application/json"),
            ("accept", accept),
            ("anthropic-version", API_VERSION),
        )
        return UpstreamCall("/messages", body, request.stream, headers)

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        return parse_message(endpoint, body)

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder(endpoint)
