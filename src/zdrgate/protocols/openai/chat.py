"""The OpenAI chat completions protocol (and every vendor that speaks it).

Request: the validated request minus gateway and identifying fields, with the
endpoint's upstream model id; ``store`` forced to false where the vendor knows it;
streamed usage always requested. Response and chunks: passed through with the public
model id and the serving provider's name.
"""

from __future__ import annotations

from typing import Any

import orjson

from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.protocols.sse import SSEDecoder
from zdrgate.wire.chat import GATEWAY_FIELDS, ChatRequest

# Vendors whose API stores completions when asked: they get an explicit store=false.
_STORE_AWARE = frozenset({"openai", "azure", "azure-openai"})
# Vendors that take predicted outputs; others never see the field (it only saves time,
# the answer is the same without it).
_PREDICTION_AWARE = frozenset({"openai", "azure"})
JSON_HEADERS = (("content-type", "application/json"), ("accept", "application/json"))
SSE_HEADERS = (("content-type", "application/json"), ("accept", "text/event-stream"))


class OpenAIChat:
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall:
        payload = request_payload(endpoint, request)
        headers = SSE_HEADERS if request.stream else JSON_HEADERS
        return UpstreamCall("/chat/completions", encode(payload), request.stream, headers)

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON:
        parsed = load_object(body, "response")
        if not isinstance(parsed.get("choices"), list):
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no choices")
        return relabel(parsed, endpoint)

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(endpoint)


def request_payload(endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
    payload = request.model_dump(
        exclude_none=True, exclude_unset=True, exclude=set(GATEWAY_FIELDS), by_alias=True
    )
    payload["model"] = endpoint.upstream_id
    if request.stream:
        payload["stream_options"] = {"include_usage": True}
    if endpoint.provider.id in _STORE_AWARE:
        payload["store"] = False
    _reasoning(payload, request, endpoint)
    if request.prediction is not None and (
        endpoint.provider.id in _PREDICTION_AWARE
        or endpoint.provider.protocol is Protocol.AZURE_OPENAI
    ):
        payload["prediction"] = request.prediction.model_dump(exclude_none=True)
    if endpoint.provider.id == "openrouter":
        # OpenRouter enforces ZDR per request; zdrgate adds it to every request.
        payload["provider"] = {"zdr": True, "data_collection": "deny"}
    return payload


def _reasoning(payload: dict[str, Any], request: ChatRequest, endpoint: Endpoint) -> None:
    effort = request.reasoning.effort if request.reasoning else None
    if effort and "reasoning_effort" not in payload:
        payload["reasoning_effort"] = effort
    if endpoint.provider.id == "openrouter" and request.reasoning is not None:
        payload["reasoning"] = request.reasoning.model_dump(exclude_none=True)


def relabel(message: JSON, endpoint: Endpoint) -> JSON:
    """Public model id and provider name in place of the upstream's."""
    message["model"] = endpoint.model_id
    message["provider"] = endpoint.provider.name
    return message


class OpenAIStreamDecoder:
    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._sse = SSEDecoder()
        self._done = False
        self._finished = False

    def feed(self, data: bytes) -> list[JSON]:
        chunks: list[JSON] = []
        for event in self._sse.feed(data):
            chunk = self._chunk(event.data)
            if chunk is not None:
                chunks.append(chunk)
        return chunks

    def finish(self) -> list[JSON]:
        chunks = [c for e in self._sse.flush() if (c := self._chunk(e.data)) is not None]
        if not (self._done or self._finished):
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "stream ended before it finished")
        return chunks

    def _chunk(self, data: str) -> JSON | None:
        if data == "[DONE]":
            self._done = True
            return None
        if not data:
            return None
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "chunk is not JSON") from None
        if not isinstance(chunk, dict) or "error" in chunk:
            raise StreamProtocolError(ErrorKind.SERVER_ERROR, "upstream sent an error event")
        if not self._finished:
            for choice in chunk.get("choices") or ():
                if choice.get("finish_reason"):
                    self._finished = True
        return relabel(chunk, self._endpoint)
