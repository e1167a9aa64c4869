"""OpenAI Responses API ``response`` object -> canonical ``chat.completion`` (outbound);
usage and finish reasons, shared with the stream decoder (:mod:`.stream`)."""

from __future__ import annotations

from typing import Any

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import (
    assistant_message,
    choice,
    completion,
    custom_call,
    tool_call,
    usage,
)
from zdrgate.protocols.common import JSON, int_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError


def canonical_usage(raw: object) -> JSON | None:
    if not isinstance(raw, dict):
        return None
    return usage(
        int_field(raw, "input_tokens"),
        int_field(raw, "output_tokens"),
        cached=int_field(raw.get("input_tokens_details"), "cached_tokens"),
        reasoning=int_field(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def finish_reason(response: JSON, had_calls: bool) -> str:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if response.get("status") == "incomplete" and reason == "content_filter":
        return "content_filter"
    if response.get("status") == "incomplete":
        return "length"
    return "tool_calls" if had_calls else "stop"


def failed(response: JSON) -> StreamProtocolError:
    """A ``failed`` response (its error message is dropped: it may quote the prompt)."""
    error = response.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    kind = ErrorKind.RATE_LIMITED if code == "rate_limit_exceeded" else ErrorKind.SERVER_ERROR
    return StreamProtocolError(kind, "the upstream response failed")


def parse_response(endpoint: Endpoint, body: bytes) -> JSON:
    parsed = load_object(body, "response")
    output = parsed.get("output")
    if parsed.get("status") == "failed":
        raise failed(parsed)
    if not isinstance(output, list):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no output")
    texts, thoughts, calls = _read(output)
    message = assistant_message("".join(texts), calls, "".join(thoughts), had_text=bool(texts))
    refusals = [
        r
        for i in output
        if isinstance(i, dict) and i.get("type") == "message"
        for r in _texts(i.get("content"), "refusal", "refusal")
    ]
    if refusals:
        message["refusal"] = "".join(refusals)
    ident = parsed.get("id")
    return completion(
        ident if isinstance(ident, str) else "resp",
        endpoint,
        [choice(message, finish_reason(parsed, bool(calls)))],
        canonical_usage(parsed.get("usage")),
    )


def _read(output: list[Any]) -> tuple[list[str], list[str], list[JSON]]:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            texts += _texts(item.get("content"), "output_text", "text")
        elif kind == "reasoning":
            thoughts += _texts(item.get("content"), "reasoning_text", "text")
            thoughts += _texts(item.get("summary"), "summary_text", "text")
        elif kind in ("function_call", "custom_tool_call"):
            calls.append(_call(item))
    return texts, thoughts, calls


def _texts(parts: object, kind: str, key: str) -> list[str]:
    if not isinstance(parts, list):
        return []
    return [
        p[key]
        for p in parts
        if isinstance(p, dict) and p.get("type") == kind and isinstance(p.get(key), str)
    ]


def _call(item: JSON) -> JSON:
    """A ``function_call`` or ``custom_tool_call`` item as a canonical tool call."""
    ident, name = item.get("call_id"), item.get("name")
    if not isinstance(ident, str) or not isinstance(name, str):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "tool call without id or name")
    if item.get("type") == "custom_tool_call":
        text = item.get("input")
        return custom_call(ident, name, text if isinstance(text, str) else "")
    arguments = item.get("arguments")
    return tool_call(ident, name, arguments if isinstance(arguments, str) else "")
