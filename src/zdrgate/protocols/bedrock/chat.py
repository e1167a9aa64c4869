"""AWS Bedrock's Converse API: ``POST {base}/model/{modelId}/converse``, and
``/converse-stream`` for ConverseStream (an AWS event stream).

The model id is percent-encoded whole (``:`` and ``/`` of ARNs and versioned ids
included), so an upstream id from config can add no path segment. Translation lives
in :mod:`.request`, :mod:`.response` and :mod:`.stream`; the dispatcher signs (SigV4)
or adds the Bedrock API key.
"""

from __future__ import annotations

from urllib.parse import quote

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.bedrock.request import request_body
from zdrgate.protocols.bedrock.response import parse_converse
from zdrgate.protocols.bedrock.stream import BedrockStreamDecoder
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import ChatRequest

EVENT_STREAM = "application/vnd.amazon.eventstream"


def model_path(upstream_id: str, method: str) -> str:
    return f"/model/{quote(upstream_id, safe='')}/{method}"


class BedrockChat:
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        body = encode(request_body(endpoint, request))
        method = "converse-stream" if request.stream else "converse"
        accept = EVENT_STREAM if request.stream else "application/json"
        headers = (("content-type", "application/json"), ("accept", accept))
        return UpstreamCall(model_path(endpoint.upstream_id, method), body, request.stream, headers)

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        return parse_converse(endpoint, body)

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> BedrockStreamDecoder:
        return BedrockStreamDecoder(endpoint)
