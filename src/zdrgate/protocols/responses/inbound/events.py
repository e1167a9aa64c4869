"""Canonical chunks -> the Responses API's SSE events, for a streamed ``/v1/responses``.

The sequence is OpenAI's: ``response.created``, ``response.in_progress``, then per
output item ``response.output_item.added``, its parts and deltas
(``response.content_part.added``, ``response.output_text.delta`` / ``.done``,
``response.reasoning_text.delta`` / ``.done``, ``response.content_part.done``; or
``response.function_call_arguments.delta`` / ``.done``) and
``response.output_item.done``; then ``response.completed`` (``response.incomplete``
when the output hit its token limit) with the whole response and its usage. Every
event carries its ``sequence_number``. A failure is loud: an ``error`` event, then
``response.failed`` with what was produced so far. One item is open at a time.
"""

from __future__ import annotations

from typing import Any

from zdrgate.protocols.common import JSON, ChunkEvents
from zdrgate.protocols.responses.inbound.models import ResponsesRequest
from zdrgate.protocols.responses.inbound.render import (
    call_item,
    call_parts,
    finish,
    message_item,
    new_id,
    reasoning_item,
    skeleton,
    text_part,
    usage_of,
)
from zdrgate.protocols.sse import event

KEEPALIVE = b": keep-alive\n\n"
# The last event of a stream, whichever way it ended: the receipt line goes before it.
TERMINATORS = (
    b"event: response.completed\n",
    b"event: response.incomplete\n",
    b"event: response.failed\n",
)


_ARGUMENTS = "response.function_call_arguments"
_CUSTOM_INPUT = "response.custom_tool_call_input"

# Text-like items: id prefix, content part type, event name prefix, the part's text key.
_TEXTS = {
    "reasoning": ("rs", "reasoning_text", "response.reasoning_text", "text"),
    "message": ("msg", "output_text", "response.output_text", "text"),
    "refusal": ("msg", "refusal", "response.refusal", "refusal"),
}


class _Item:
    """One output item being streamed: its kind, position, id and what it holds so far."""

    __slots__ = ("call_id", "custom", "ident", "index", "kind", "name", "text")

    def __init__(self, kind: str, index: int, ident: str) -> None:
        self.kind = kind  # a key of _TEXTS, or "tool<canonical index>"
        self.index = index
        self.ident = ident
        self.text = ""  # reasoning, output or refusal text, or the call's arguments
        self.call_id = ""
        self.name = ""
        self.custom = False  # a custom tool call: its text is the input, not arguments

    def part(self, text: str) -> JSON:
        _, kind, _, key = _TEXTS[self.kind]
        return text_part(text) if kind == "output_text" else {"type": kind, key: text}

    def as_json(self, status: str) -> JSON:
        if self.kind == "reasoning":
            return reasoning_item(self.ident, self.text, status)
        if self.kind in _TEXTS:
            return message_item(self.ident, [self.part(self.text)], status)
        return call_item(self.ident, self.call_id, self.name, self.text, status, self.custom)

    @property
    def text_event(self) -> str:
        """The events a call's text streams as (``.delta``, ``.done``)."""
        return _CUSTOM_INPUT if self.custom else _ARGUMENTS


class ResponseEvents(ChunkEvents):
    """Renders one stream's canonical chunks as Responses API SSE events."""

    def __init__(self, request: ResponsesRequest) -> None:
        super().__init__()
        self.request = request
        self._seq = 0
        self._response: JSON = {}
        self._items: list[_Item] = []
        self._open: _Item | None = None
        self._tools: dict[int, _Item] = {}

    def done(self) -> list[bytes]:
        if self.ended:
            return []
        out = self._start(None) + self._close()
        self.ended = True
        response = finish(self._snapshot("completed"), self._finish)
        response["usage"] = usage_of(self._usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [*out, self._event(kind, {"response": response})]

    def error(self, status: int, message: str, code: str | None = None) -> list[bytes]:
        if self.ended:
            return []
        out = self._start(None)
        self.ended = True
        out.append(self._event("error", {"code": code, "message": message, "param": None}))
        response = self._snapshot("failed")
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        response["error"] = {"code": kind, "message": message}
        response["usage"] = usage_of(self._usage)
        return [*out, self._event("response.failed", {"response": response})]

    def _event(self, kind: str, fields: JSON) -> bytes:
        data: dict[str, Any] = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return event(kind, data)

    def _snapshot(self, status: str) -> JSON:
        response = dict(self._response)
        response["status"] = status
        item_status = "completed" if status == "completed" else "incomplete"
        response["output"] = [
            item.as_json("completed" if item is not self._open else item_status)
            for item in self._items
        ]
        return response

    def _start(self, first: JSON | None) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        model = first.get("model") if first else None
        self._response = skeleton(self.request, new_id("resp"), model, "in_progress")
        return [
            self._event("response.created", {"response": self._response}),
            self._event("response.in_progress", {"response": self._response}),
        ]

    def _delta(self, delta: JSON) -> list[bytes]:
        out: list[bytes] = []
        for key, kind in (
            ("reasoning", "reasoning"),
            ("content", "message"),
            ("refusal", "refusal"),
        ):
            text = delta.get(key)
            if isinstance(text, str) and text:
                out += self._text(kind, text)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                out += self._tool(call)
        return out

    def _text(self, kind: str, text: str) -> list[bytes]:
        prefix, _, name, _ = _TEXTS[kind]
        out: list[bytes] = []
        item = self._open
        if item is None or item.kind != kind:
            out += self._close()
            item = self._add(kind, new_id(prefix))
            out.append(self._added(item))
            part = {**self._at(item), "part": item.part("")}
            out.append(self._event("response.content_part.added", part))
        item.text += text
        extra: JSON = {"logprobs": []} if kind == "message" else {}
        out.append(self._event(f"{name}.delta", {**self._at(item), "delta": text, **extra}))
        return out

    def _tool(self, call: JSON) -> list[bytes]:
        index = call.get("index", 0)
        index = index if isinstance(index, int) else 0
        name, text, custom = call_parts(call)
        out: list[bytes] = []
        item = self._tools.get(index)
        if item is None:
            out += self._close()
            item = self._add(f"tool{index}", new_id("ctc" if custom else "fc"))
            item.call_id = str(call.get("id") or new_id("call"))
            item.name, item.custom = name, custom
            self._tools[index] = item
            out.append(self._added(item))
        if text:
            item.text += text
            at = {"item_id": item.ident, "output_index": item.index}
            out.append(self._event(f"{item.text_event}.delta", {**at, "delta": text}))
        return out

    def _add(self, kind: str, ident: str) -> _Item:
        item = _Item(kind, len(self._items), ident)
        self._items.append(item)
        self._open = item
        return item

    def _added(self, item: _Item) -> bytes:
        fields = {"output_index": item.index, "item": item.as_json("in_progress")}
        return self._event("response.output_item.added", fields)

    @staticmethod
    def _at(item: _Item) -> JSON:
        return {"item_id": item.ident, "output_index": item.index, "content_index": 0}

    def _close(self) -> list[bytes]:
        item = self._open
        if item is None:
            return []
        self._open = None
        out: list[bytes] = []
        if item.kind in _TEXTS:
            _, _, name, key = _TEXTS[item.kind]
            extra: JSON = {"logprobs": []} if item.kind == "message" else {}
            done = {**self._at(item), key: item.text, **extra}
            out.append(self._event(f"{name}.done", done))
            part = {**self._at(item), "part": item.part(item.text)}
            out.append(self._event("response.content_part.done", part))
        else:
            key = "input" if item.custom else "arguments"
            at = {"item_id": item.ident, "output_index": item.index, key: item.text}
            out.append(self._event(f"{item.text_event}.done", at))
        fields = {"output_index": item.index, "item": item.as_json("completed")}
        return [*out, self._event("response.output_item.done", fields)]
