"""Claude on Google Vertex AI: the Anthropic Messages body over Vertex's rawPredict.

The body is Anthropic's without ``model`` and with ``anthropic_version``, posted to
``{base}/models/{id}:rawPredict`` (or ``:streamRawPredict``); the base URL ends in
``.../publishers/anthropic``. Answers, streams and errors are Anthropic's.
"""

from __future__ import annotations

from urllib.parse import quote

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.anthropic.chat import AnthropicChat
from zdrgate.protocols.anthropic.request import request_body
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.wire.chat import ChatRequest

VERTEX_VERSION = "vertex-2023-10-16"


class AnthropicVertexChat(AnthropicChat):
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        payload = request_body(endpoint, request)
        payload.pop("model", None)
        payload["anthropic_version"] = VERTEX_VERSION
        method = "streamRawPredict" if request.stream else "rawPredict"
        accept = "text/event-stream" if request.stream else "application/json"
        headers = (("content-type", "application/json"), ("accept", accept))
        path = f"/models/{quote(endpoint.upstream_id, safe='@.-_')}:{method}"
        return UpstreamCall(path, encode(payload), request.stream, headers)
