"""Chat over Azure OpenAI: the OpenAI body with the deployment as ``model``, sent to
the deployment's address; answers and chunks without Azure's content-filter
annotations (``prompt_filter_results``, ``content_filter_results``), which are not part
of OpenAI's shape. A filtered answer keeps OpenAI's ``finish_reason: "content_filter"``.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.azure_openai.address import deployment, is_v1, target
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON
from zdrgate.protocols.openai.chat import (
    JSON_HEADERS,
    SSE_HEADERS,
    OpenAIChat,
    OpenAIStreamDecoder,
    request_payload,
)
from zdrgate.wire.chat import ChatRequest


class AzureChat(OpenAIChat):
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        payload = request_payload(endpoint, request)
        payload["model"] = deployment(endpoint)
        if is_v1(endpoint):
            payload["store"] = False
        else:
            # Dated versions before stored completions refuse the field; not storing
            # is their default (and the only behaviour of the versions that know it).
            payload.pop("store", None)
        headers = SSE_HEADERS if request.stream else JSON_HEADERS
        path = target(endpoint, "/chat/completions")
        return UpstreamCall(path, encode(payload), request.stream, headers)

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        answer = super().parse_chat(endpoint, body)
        answer.pop("prompt_filter_results", None)
        for item in answer["choices"]:
            if isinstance(item, dict):
                item.pop("content_filter_results", None)
        return answer

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> AzureStreamDecoder:
        return AzureStreamDecoder(endpoint)


class AzureStreamDecoder(OpenAIStreamDecoder):
    """OpenAI's decoder, minus Azure's filter-only chunks: the first one (prompt filter
    results, no choices) and, with asynchronous filtering, choices carrying only filter
    results (no delta, no finish reason)."""

    def _chunk(self, data: str) -> JSON | None:
        chunk = super()._chunk(data)
        if chunk is None:
            return None
        chunk.pop("prompt_filter_results", None)
        choices = [c for c in chunk.get("choices") or () if _content(c)]
        for item in choices:
            item.pop("content_filter_results", None)
            item.pop("content_filter_offsets", None)
        if not choices and chunk.get("usage") is None:
            return None
        chunk["choices"] = choices
        return chunk


def _content(item: object) -> bool:
    return isinstance(item, dict) and ("delta" in item or item.get("finish_reason") is not None)
