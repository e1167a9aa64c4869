"""Canonical completion and chunks -> Anthropic Messages response and SSE events,
for the inbound ``/v1/messages`` API (the request side is :mod:`.request`).

A stream renders as ``message_start``, then per content block ``content_block_start``
/ ``content_block_delta`` / ``content_block_stop`` (thinking, text, tool_use), then
``message_delta`` (stop reason and usage) and ``message_stop``. A stream that failed
ends with an ``error`` event (:meth:`MessageEvents.error`), loudly.
"""

from __future__ import annotations

import orjson

from zdrgate.protocols.common import JSON, ChunkEvents
from zdrgate.protocols.sse import event

STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    if status in _ERROR_TYPE:
        return _ERROR_TYPE[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def error_body(status: int, message: str, code: str | None = None) -> JSON:
    """Anthropic's error envelope; zdrgate's machine ``code`` rides along when known."""
    error: JSON = {"type": error_type(status), "message": message}
    if code:
        error["code"] = code
    return {"type": "error", "error": error}


PING = event("ping", {"type": "ping"})


def message_id(raw: object) -> str:
    ident = raw if isinstance(raw, str) and raw else "zdrgate"
    return ident if ident.startswith("msg_") else f"msg_{ident}"


def anthropic_usage(raw: object) -> JSON:
    use = raw if isinstance(raw, dict) else {}
    details = use.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    cached = cached if isinstance(cached, int) else 0
    prompt, completion = use.get("prompt_tokens"), use.get("completion_tokens")
    return {
        "input_tokens": max((prompt if isinstance(prompt, int) else 0) - cached, 0),
        "output_tokens": completion if isinstance(completion, int) else 0,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def tool_input(arguments: object) -> JSON:
    """Tool call arguments as Anthropic's ``input`` object (raw text kept if not one)."""
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


def to_message(completion: JSON) -> JSON:
    choices = completion.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    return {
        "id": message_id(completion.get("id")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model"),
        "content": _blocks(message or {}),
        "stop_reason": STOP_REASON.get(str(first.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


def _blocks(message: JSON) -> list[JSON]:
    blocks: list[JSON] = []
    if isinstance(message.get("reasoning"), str) and message["reasoning"]:
        blocks.append({"type": "thinking", "thinking": message["reasoning"], "signature": ""})
    if isinstance(message.get("content"), str) and message["content"]:
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": tool_input(function.get("arguments")),
            }
        )
    return blocks


class MessageEvents(ChunkEvents):
    """Renders one stream's canonical chunks as Anthropic SSE events."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self._block: tuple[str, int] | None = None  # (kind, index) of the open block
        self._blocks = 0
        self._tools: dict[int, int] = {}  # canonical tool index -> block index

    def done(self) -> list[bytes]:
        if self.ended:
            return []
        out = self._start(None) + self._close()
        self.ended = True
        stop = STOP_REASON.get(str(self._finish), "end_turn")
        delta = {"stop_reason": stop, "stop_sequence": None}
        out.append(
            event(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": anthropic_usage(self._usage)},
            )
        )
        return [*out, event("message_stop", {"type": "message_stop"})]

    def error(self, status: int, message: str, code: str | None = None) -> list[bytes]:
        if self.ended:
            return []
        self.ended = True
        return [event("error", error_body(status, message, code))]

    def _start(self, first: JSON | None) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        message: JSON = {
            "id": message_id(first.get("id") if first else None),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [event("message_start", {"type": "message_start", "message": message})]

    def _delta(self, delta: JSON) -> list[bytes]:
        out: list[bytes] = []
        if isinstance(delta.get("reasoning"), str) and delta["reasoning"]:
            out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out.append(
                self._block_delta({"type": "thinking_delta", "thinking": delta["reasoning"]})
            )
        if isinstance(delta.get("content"), str) and delta["content"]:
            out += self._open("text", {"type": "text", "text": ""})
            out.append(self._block_delta({"type": "text_delta", "text": delta["content"]}))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                out += self._tool(call)
        return out

    def _tool(self, call: JSON) -> list[bytes]:
        index = call.get("index", 0)
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        out: list[bytes] = []
        if call.get("id") and index not in self._tools:
            block = {"type": "tool_use", "id": call["id"], "name": function.get("name") or ""}
            out += self._open(f"tool{index}", {**block, "input": {}})
            self._tools[index] = self._blocks - 1
        arguments = function.get("arguments")
        if arguments and index in self._tools:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(self._block_delta(delta, self._tools[index]))
        return out

    def _open(self, kind: str, block: JSON) -> list[bytes]:
        if self._block is not None and self._block[0] == kind:
            return []
        out = self._close()
        index = self._blocks
        self._blocks += 1
        self._block = (kind, index)
        start = {"type": "content_block_start", "index": index, "content_block": block}
        return [*out, event("content_block_start", start)]

    def _close(self) -> list[bytes]:
        if self._block is None:
            return []
        index = self._block[1]
        self._block = None
        return [event("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _block_delta(self, delta: JSON, index: int | None = None) -> bytes:
        at = index if index is not None else self._block[1] if self._block else 0
        return event(
            "content_block_delta", {"type": "content_block_delta", "index": at, "delta": delta}
        )
