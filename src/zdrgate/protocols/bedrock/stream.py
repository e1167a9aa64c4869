"""ConverseStream (AWS event-stream frames) -> canonical ``chat.completion.chunk`` dicts.

Each frame's ``:message-type`` header says what it is: an ``event`` (its
``:event-type`` names it, its payload is JSON) or an ``exception``
(``:exception-type``: ``throttlingException``, ``modelStreamErrorException``,
``validationException``...). ``messageStart`` opens the stream (role chunk); a
``contentBlockStart`` with ``toolUse`` opens a tool call (index, id, name), whose
``contentBlockDelta`` ``toolUse.input`` fragments are its arguments; ``text`` and
``reasoningContent`` deltas become ``content`` and ``reasoning``; ``messageStop``
carries the finish reason and ``metadata`` the usage. An exception, a bad frame, or
an end before ``messageStop`` raises :class:`StreamProtocolError`: the stream never
ends silently.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.bedrock.errors import stream_exception_kind
from zdrgate.protocols.bedrock.eventstream import EventStreamDecoder, Message
from zdrgate.protocols.bedrock.response import canonical_usage, finish_reason, new_id
from zdrgate.protocols.canonical import ChunkMaker
from zdrgate.protocols.common import JSON, index_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError


class BedrockStreamDecoder:
    def __init__(self, endpoint: Endpoint) -> None:
        self._frames = EventStreamDecoder()
        self._chunks = ChunkMaker(endpoint, new_id())
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._finished = False

    def feed(self, data: bytes) -> list[JSON]:
        return [c for message in self._frames.feed(data) for c in self._message(message)]

    def finish(self) -> list[JSON]:
        self._frames.finish()
        if not self._finished:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "stream ended before messageStop")
        return []

    def _message(self, message: Message) -> list[JSON]:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind == "exception":
            name = headers.get(":exception-type")
            error = stream_exception_kind(name if isinstance(name, str) else "")
            raise StreamProtocolError(error, "upstream sent an exception event")
        if kind != "event":
            raise StreamProtocolError(ErrorKind.SERVER_ERROR, "upstream sent an error message")
        handler = _HANDLERS.get(str(headers.get(":event-type")))
        return handler(self, load_object(message.payload, "event")) if handler else []

    def _start(self, event: JSON) -> list[JSON]:
        return [self._chunks.delta({"role": "assistant", "content": ""})]

    def _block_start(self, event: JSON) -> list[JSON]:
        start = event.get("start")
        use = start.get("toolUse") if isinstance(start, dict) else None
        if not isinstance(use, dict):
            return []
        ident, name = use.get("toolUseId"), use.get("name")
        if not isinstance(ident, str) or not isinstance(name, str):
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "toolUse without id or name")
        self._tools[index_field(event, "contentBlockIndex")] = number = len(self._tools)
        call = {
            "index": number,
            "id": ident,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return [self._chunks.delta({"tool_calls": [call]})]

    def _block_delta(self, event: JSON) -> list[JSON]:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return []
        if isinstance(text := delta.get("text"), str):
            return [self._chunks.delta({"content": text})] if text else []
        if isinstance(use := delta.get("toolUse"), dict):
            return self._arguments(index_field(event, "contentBlockIndex"), use.get("input"))
        thought = delta.get("reasoningContent")
        text = thought.get("text") if isinstance(thought, dict) else None
        if isinstance(text, str) and text:
            return [self._chunks.delta({"reasoning": text})]
        return []  # a reasoning signature, redacted reasoning: nothing canonical to say

    def _arguments(self, block: int, fragment: object) -> list[JSON]:
        number = self._tools.get(block)
        if number is None:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "toolUse input outside a tool")
        if not isinstance(fragment, str) or not fragment:
            return []
        call = {"index": number, "function": {"arguments": fragment}}
        return [self._chunks.delta({"tool_calls": [call]})]

    def _stop(self, event: JSON) -> list[JSON]:
        self._finished = True
        return [self._chunks.delta({}, finish_reason(event.get("stopReason")))]

    def _metadata(self, event: JSON) -> list[JSON]:
        use = canonical_usage(event.get("usage"))
        return [self._chunks.usage(use)] if use is not None else []


_HANDLERS = {
    "messageStart": BedrockStreamDecoder._start,
    "contentBlockStart": BedrockStreamDecoder._block_start,
    "contentBlockDelta": BedrockStreamDecoder._block_delta,
    "messageStop": BedrockStreamDecoder._stop,
    "metadata": BedrockStreamDecoder._metadata,
}
