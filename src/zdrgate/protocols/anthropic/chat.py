"""The Anthropic Messages protocol (``POST {base}/messages``).

Translation lives in three modules: :mod:`.request` (canonical request ->
Messages body), :mod:`.response` (message -> ``chat.completion``) and
:mod:`.stream` (SSE -> chunks). The dispatcher adds ``x-api-key``; the
adapter adds ``anthropic-version``.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.anthropic.request import request_body
from zdrgate.protocols.anthropic.response import parse_message
from zdrgate.protocols.anthropic.stream import AnthropicStreamDecoder
from zdrgate.protocols.base import JSON, ErrorKind, UpstreamCall, UpstreamErrorInfo
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.errors import classify
from zdrgate.wire.chat import ChatRequest

API_VERSION = "2023-06-01"
_KIND_BY_TYPE = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "timeout_error": ErrorKind.TIMEOUT,
}


class AnthropicAdapter:
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

    def classify_error(
        self, status: int, headers: dict[str, str], body: bytes
    ) -> UpstreamErrorInfo:
        """Status first; Anthropic's error ``type`` refines it (``overloaded_error``
        can come with a 529 or a 500)."""
        info = classify(status, headers, body)
        kind = _KIND_BY_TYPE.get(info.code or "")
        return dataclasses.replace(info, kind=kind) if kind else info


VERTEX_VERSION = "vertex-2023-10-16"


class AnthropicVertexAdapter(AnthropicAdapter):
    """Claude on Google Vertex AI: the same Messages body, without ``model`` and with
    ``anthropic_version`` in it, posted to ``{base}/models/{id}:rawPredict`` (or
    ``:streamRawPredict``); the base URL ends in ``.../publishers/anthropic``."""

    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        payload = request_body(endpoint, request)
        payload.pop("model", None)
        payload["anthropic_version"] = VERTEX_VERSION
        method = "streamRawPredict" if request.stream else "rawPredict"
        accept = "text/event-stream" if request.stream else "application/json"
        headers = (("content-type", "application/json"), ("accept", accept))
        path = f"/models/{quote(endpoint.upstream_id, safe='@.-_')}:{method}"
        return UpstreamCall(path, encode(payload), request.stream, headers)
