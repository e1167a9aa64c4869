"""OpenAI Responses API SSE events -> canonical ``chat.completion.chunk`` dicts (outbound).

``response.created`` opens the stream (role chunk); text, refusal and reasoning deltas
become ``content``, ``refusal`` and ``reasoning`` deltas; a ``function_call`` item becomes a tool
call (its index, id and name first, then its argument deltas); ``response.completed``
or ``response.incomplete`` carries the finish reason and the usage. A
``response.failed`` or ``error`` event, or an end before the final event, raises
:class:`StreamProtocolError`, so the stream never ends silently.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import ChunkMaker
from zdrgate.protocols.common import JSON, index_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.protocols.responses.response import canonical_usage, failed, finish_reason
from zdrgate.protocols.sse import EventStreamDecoder

_TEXT = {
    "response.output_text.delta": "content",
    "response.refusal.delta": "refusal",
    "response.reasoning_text.delta": "reasoning",
    "response.reasoning_summary_text.delta": "reasoning",
}


class ResponsesStreamDecoder(EventStreamDecoder):
    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self._chunks = ChunkMaker(endpoint)
        self._tools: dict[int, tuple[int, str]] = {}  # output index -> call index, kind
        self._sent: dict[int, int] = {}  # output index -> argument characters sent

    def _event(self, data: str) -> list[JSON]:
        if not data or data == "[DONE]":
            return []
        event = load_object(data, "event")
        kind = str(event.get("type"))
        if kind in _TEXT:
            delta = event.get("delta")
            return (
                [self._chunks.delta({_TEXT[kind]: delta})]
                if isinstance(delta, str) and delta
                else []
            )
        handler = _HANDLERS.get(kind)
        return handler(self, event) if handler else []  # in_progress, part events, ...

    def _created(self, event: JSON) -> list[JSON]:
        response = event.get("response")
        if isinstance(response, dict) and isinstance(response.get("id"), str):
            self._chunks.ident = response["id"]
        return [self._chunks.delta({"role": "assistant", "content": ""})]

    def _item_added(self, event: JSON) -> list[JSON]:
        item = event.get("item")
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in _CALLS:
            return []
        assert isinstance(item, dict)
        ident, name = item.get("call_id"), item.get("name")
        if not isinstance(ident, str) or not isinstance(name, str):
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "tool call without id or name")
        field, text_key = _CALLS[kind]
        tool_index = len(self._tools)
        self._tools[index_field(event, "output_index")] = (tool_index, kind)
        call = {"index": tool_index, "id": ident, "type": field}
        call[field] = {"name": name, text_key: ""}
        return [self._chunks.delta({"tool_calls": [call]})]

    def _arguments(self, event: JSON, text: object) -> list[JSON]:
        """A piece of a call's arguments (a function) or input (a custom tool)."""
        index = index_field(event, "output_index")
        held = self._tools.get(index)
        if held is None:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "arguments outside a tool call")
        if not isinstance(text, str) or not text:
            return []
        self._sent[index] = self._sent.get(index, 0) + len(text)
        field, text_key = _CALLS[held[1]]
        call = {"index": held[0], field: {text_key: text}}
        return [self._chunks.delta({"tool_calls": [call]})]

    def _arguments_delta(self, event: JSON) -> list[JSON]:
        return self._arguments(event, event.get("delta"))

    def _arguments_done(self, event: JSON) -> list[JSON]:
        """The whole arguments or input: sent only if no delta carried them."""
        if self._sent.get(index_field(event, "output_index")):
            return []
        whole = event.get("arguments") if "arguments" in event else event.get("input")
        return self._arguments(event, whole)

    def _completed(self, event: JSON) -> list[JSON]:
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        self._finished = True
        finish = finish_reason(response, bool(self._tools))
        chunks = [self._chunks.delta({}, finish)]
        use = canonical_usage(response.get("usage"))
        return chunks + ([self._chunks.usage(use)] if use is not None else [])

    def _failed(self, event: JSON) -> list[JSON]:
        response = event.get("response")
        raise failed(response if isinstance(response, dict) else {})

    def _error(self, event: JSON) -> list[JSON]:
        kind = ErrorKind.RATE_LIMITED if event.get("code") == "rate_limit_exceeded" else None
        raise StreamProtocolError(kind or ErrorKind.SERVER_ERROR, "upstream sent an error event")


# Tool call items: the canonical call's type and field, and its text's key there.
_CALLS = {"function_call": ("function", "arguments"), "custom_tool_call": ("custom", "input")}

_HANDLERS = {
    "response.created": ResponsesStreamDecoder._created,
    "response.output_item.added": ResponsesStreamDecoder._item_added,
    "response.function_call_arguments.delta": ResponsesStreamDecoder._arguments_delta,
    "response.function_call_arguments.done": ResponsesStreamDecoder._arguments_done,
    "response.custom_tool_call_input.delta": ResponsesStreamDecoder._arguments_delta,
    "response.custom_tool_call_input.done": ResponsesStreamDecoder._arguments_done,
    "response.completed": ResponsesStreamDecoder._completed,
    "response.incomplete": ResponsesStreamDecoder._completed,
    "response.failed": ResponsesStreamDecoder._failed,
    "error": ResponsesStreamDecoder._error,
}
