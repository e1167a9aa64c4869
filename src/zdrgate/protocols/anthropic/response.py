"""Anthropic Messages response -> canonical ``chat.completion``; usage and stop reasons.

``prompt_tokens`` counts every input token Anthropic billed: uncached input, cache
reads and cache writes; cache reads are also reported as ``cached_tokens``.
"""

from __future__ import annotations

from typing import Any

import orjson

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import assistant_message, choice, completion, tool_call, usage
from zdrgate.protocols.common import JSON, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError

FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: object) -> str:
    return FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _count(raw: JSON, name: str) -> int:
    value = raw.get(name)
    return value if isinstance(value, int) else 0


def canonical_usage(raw: object) -> JSON | None:
    if not isinstance(raw, dict):
        return None
    read = _count(raw, "cache_read_input_tokens")
    prompt = _count(raw, "input_tokens") + read + _count(raw, "cache_creation_input_tokens")
    return usage(prompt, _count(raw, "output_tokens"), cached=read)


def parse_message(endpoint: Endpoint, body: bytes) -> JSON:
    parsed = load_object(body, "response")
    if not isinstance(parsed.get("content"), list):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no content")
    message = _message(parsed["content"])
    finish = finish_reason(parsed.get("stop_reason"))
    ident = parsed.get("id")
    return completion(
        ident if isinstance(ident, str) else "msg",
        endpoint,
        [choice(message, finish)],
        canonical_usage(parsed.get("usage")),
    )


def _message(blocks: list[Any]) -> JSON:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thoughts.append(block["thinking"])
        elif kind == "tool_use":
            calls.append(_tool_call(block))
    return assistant_message("".join(texts), calls, "".join(thoughts), had_text=bool(texts))


def _tool_call(block: JSON) -> JSON:
    ident, name = block.get("id"), block.get("name")
    if not isinstance(ident, str) or not isinstance(name, str):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "tool_use block without id or name")
    arguments = orjson.dumps(block.get("input") or {}).decode()
    return tool_call(ident, name, arguments)
