"""The OpenAI Responses API as an upstream protocol (``POST {base}/responses``), for
models OpenAI serves only there. Always ``store: false``.

Translation lives in three modules: :mod:`.request` (canonical request -> Responses
body), :mod:`.response` (response -> ``chat.completion``) and :mod:`.stream` (SSE
events -> chunks). The dispatcher adds the bearer token.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON
from zdrgate.protocols.responses.request import request_body
from zdrgate.protocols.responses.response import parse_response
from zdrgate.protocols.responses.stream import ResponsesStreamDecoder
from zdrgate.wire.chat import ChatRequest


class ResponsesChat:
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        body = {"model": self.model(endpoint), **request_body(endpoint, request)}
        accept = "text/event-stream" if request.stream else "application/json"
        headers = (("content-type", "application/json"), ("accept", accept))
        return UpstreamCall(self.target(endpoint), encode(body), request.stream, headers)

    def model(self, endpoint: Endpoint) -> str:
        """The ``model`` the upstream knows (a host may address models its own way)."""
        return endpoint.upstream_id

    def target(self, endpoint: Endpoint) -> str:
        """Where the call goes, relative to the endpoint's base URL."""
        return "/responses"

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        return parse_response(endpoint, body)

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> ResponsesStreamDecoder:
        return ResponsesStreamDecoder(endpoint)
