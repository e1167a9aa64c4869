"""Converse response -> canonical ``chat.completion``; usage and stop reasons.

A Converse answer has no id of its own: the completion gets a fresh one.
``prompt_tokens`` counts every input token Bedrock billed (``inputTokens`` plus cache
reads and writes); cache reads are also reported as ``cached_tokens``.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import assistant_message, choice, completion, tool_call, usage
from zdrgate.protocols.common import JSON, int_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError

FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: object) -> str:
    return FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def canonical_usage(raw: object) -> JSON | None:
    if not isinstance(raw, dict):
        return None
    read = int_field(raw, "cacheReadInputTokens")
    prompt = int_field(raw, "inputTokens") + read + int_field(raw, "cacheWriteInputTokens")
    cached = read if "cacheReadInputTokens" in raw else None
    return usage(prompt, int_field(raw, "outputTokens"), cached=cached)


def parse_converse(endpoint: Endpoint, body: bytes) -> JSON:
    parsed = load_object(body, "response")
    output = parsed.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    if not isinstance(blocks, list):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no message content")
    return completion(
        new_id(),
        endpoint,
        [choice(_message(blocks), finish_reason(parsed.get("stopReason")))],
        canonical_usage(parsed.get("usage")),
    )


def _message(blocks: list[Any]) -> JSON:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            calls.append(_tool_call(block["toolUse"]))
        elif thought := reasoning_text(block.get("reasoningContent")):
            thoughts.append(thought)
    return assistant_message("".join(texts), calls, "".join(thoughts), had_text=bool(texts))


def reasoning_text(content: object) -> str:
    """The text of a ``reasoningContent`` block (redacted reasoning has none)."""
    inner = content.get("reasoningText") if isinstance(content, dict) else None
    text = inner.get("text") if isinstance(inner, dict) else None
    return text if isinstance(text, str) else ""


def _tool_call(use: JSON) -> JSON:
    ident, name = use.get("toolUseId"), use.get("name")
    if not isinstance(ident, str) or not isinstance(name, str):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "toolUse block without id or name")
    return tool_call(ident, name, orjson.dumps(use.get("input") or {}).decode())
