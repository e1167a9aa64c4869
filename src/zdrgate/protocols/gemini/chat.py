"""The Gemini API protocol (Google AI Studio, ``{base}/models/{id}:generateContent``).

Translation lives in :mod:`.request`, :mod:`.response`,
:mod:`.stream` and :mod:`.schema`. The API key travels only in the
``x-goog-api-key`` header, added by the dispatcher: never in the URL, which ends up in
access logs.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON
from zdrgate.protocols.gemini.request import model_target, request_body
from zdrgate.protocols.gemini.response import parse_response
from zdrgate.protocols.gemini.stream import GeminiStreamDecoder
from zdrgate.wire.chat import ChatRequest


def model_path(endpoint: Endpoint, stream: bool) -> str:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return model_target(endpoint.upstream_id, method)


class GeminiChat:
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        body = encode(request_body(request))
        accept = "text/event-stream" if request.stream else "application/json"
        headers = (("content-type", "application/json"), ("accept", accept))
        return UpstreamCall(model_path(endpoint, request.stream), body, request.stream, headers)

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        return parse_response(endpoint, body)

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(endpoint)
