"""Anthropic Messages SSE -> canonical ``chat.completion.chunk`` dicts.

``message_start`` opens the stream (role chunk); text, thinking and tool-input deltas
become ``content``, ``reasoning`` and ``tool_calls`` deltas (a tool call's index, id
and name first, then its argument fragments); ``message_delta`` carries the finish
reason; ``message_stop`` the usage. An ``error`` event, or an end before any stop
reason, raises :class:`StreamProtocolError` so the stream never ends silently.
"""

from __future__ import annotations

from typing import Any

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.anthropic.errors import KIND_BY_TYPE
from zdrgate.protocols.anthropic.response import canonical_usage, finish_reason
from zdrgate.protocols.canonical import ChunkMaker
from zdrgate.protocols.common import JSON, index_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.protocols.sse import EventStreamDecoder


class AnthropicStreamDecoder(EventStreamDecoder):
    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self._chunks = ChunkMaker(endpoint)
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._usage_sent = False

    def _final(self) -> list[JSON]:
        return self._usage_chunk()

    def _event(self, data: str) -> list[JSON]:
        if not data:
            return []
        event = load_object(data, "event")
        handler = _HANDLERS.get(str(event.get("type")))
        return handler(self, event) if handler else []  # ping and future events

    def _message_start(self, event: JSON) -> list[JSON]:
        message = event.get("message")
        if isinstance(message, dict):
            if isinstance(message.get("id"), str):
                self._chunks.ident = message["id"]
            if isinstance(message.get("usage"), dict):
                self._usage.update(message["usage"])
        return [self._chunks.delta({"role": "assistant", "content": ""})]

    def _block_start(self, event: JSON) -> list[JSON]:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "tool_use":
            return [self._tool_start(index_field(event, "index"), block)]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunks.delta({"content": block["text"]})]
        return []

    def _tool_start(self, index: int, block: JSON) -> JSON:
        ident, name = block.get("id"), block.get("name")
        if not isinstance(ident, str) or not isinstance(name, str):
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "tool_use without id or name")
        self._tools[index] = tool_index = len(self._tools)
        call = {
            "index": tool_index,
            "id": ident,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return self._chunks.delta({"tool_calls": [call]})

    def _block_delta(self, event: JSON) -> list[JSON]:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunks.delta({"content": delta["text"]})]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunks.delta({"reasoning": delta["thinking"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            tool_index = self._tools.get(index_field(event, "index"))
            if tool_index is None:
                raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "input delta outside a tool")
            call = {"index": tool_index, "function": {"arguments": delta["partial_json"]}}
            return [self._chunks.delta({"tool_calls": [call]})]
        return []  # signature_delta, citations_delta: nothing canonical to say

    def _message_delta(self, event: JSON) -> list[JSON]:
        if isinstance(event.get("usage"), dict):
            self._usage.update({k: v for k, v in event["usage"].items() if v is not None})
        delta = event.get("delta")
        stop = delta.get("stop_reason") if isinstance(delta, dict) else None
        if stop is None:
            return []
        self._finished = True
        return [self._chunks.delta({}, finish_reason(stop))]

    def _message_stop(self, event: JSON) -> list[JSON]:
        if not self._finished:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "message stopped without reason")
        return self._usage_chunk()

    def _error(self, event: JSON) -> list[JSON]:
        error = event.get("error")
        kind = KIND_BY_TYPE.get(str(error.get("type"))) if isinstance(error, dict) else None
        raise StreamProtocolError(kind or ErrorKind.SERVER_ERROR, "upstream sent an error event")

    def _usage_chunk(self) -> list[JSON]:
        use = canonical_usage(self._usage) if self._usage else None
        if use is None or self._usage_sent:
            return []
        self._usage_sent = True
        return [self._chunks.usage(use)]


_HANDLERS = {
    "message_start": AnthropicStreamDecoder._message_start,
    "content_block_start": AnthropicStreamDecoder._block_start,
    "content_block_delta": AnthropicStreamDecoder._block_delta,
    "message_delta": AnthropicStreamDecoder._message_delta,
    "message_stop": AnthropicStreamDecoder._message_stop,
    "error": AnthropicStreamDecoder._error,
}
