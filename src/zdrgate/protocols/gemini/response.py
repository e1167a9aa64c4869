"""Gemini ``GenerateContentResponse`` -> canonical completion; usage, finish reasons,
tool call ids.

Gemini gives function calls no id (or not always): one is synthesized from the
response id, the candidate, the call's position and name, so the same response always
yields the same ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import assistant_message, choice, completion, tool_call, usage
from zdrgate.protocols.common import JSON, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError, kind_for_status
from zdrgate.protocols.gemini.media import inline_images

_FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def finish_reason(raw: object, has_calls: bool) -> str:
    if not isinstance(raw, str):
        return "tool_calls" if has_calls else "stop"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _FILTERED:
        return "content_filter"
    if raw == "MALFORMED_FUNCTION_CALL":
        return "error"
    return "tool_calls" if has_calls else "stop"


def canonical_usage(raw: object) -> JSON | None:
    if not isinstance(raw, dict):
        return None

    def count(name: str) -> int:
        value = raw.get(name)
        return value if isinstance(value, int) else 0

    thoughts = count("thoughtsTokenCount")
    prompt = count("promptTokenCount") + count("toolUsePromptTokenCount")
    return usage(
        prompt,
        count("candidatesTokenCount") + thoughts,
        cached=count("cachedContentTokenCount"),
        reasoning=thoughts or None,
    )


def call_id(response_id: str, candidate: int, number: int, call: JSON) -> str:
    given = call.get("id")
    if isinstance(given, str) and given:
        return given
    seed = f"{response_id}:{candidate}:{number}:{call.get('name')}".encode()
    return "call_" + hashlib.sha256(seed).hexdigest()[:24]


def loads(body: bytes | str) -> JSON:
    """A response (or stream event) object; an in-band error raises with its kind."""
    parsed = load_object(body, "response")
    if isinstance(parsed.get("error"), dict):
        raise StreamProtocolError(_error_kind(parsed["error"]), "upstream sent an error")
    return parsed


def parse_response(endpoint: Endpoint, body: bytes) -> JSON:
    parsed = loads(body)
    ident = parsed.get("responseId")
    ident = ident if isinstance(ident, str) else "gemini"
    candidates = parsed.get("candidates")
    if isinstance(candidates, list) and candidates:
        choices = [_choice(ident, i, c) for i, c in enumerate(candidates) if isinstance(c, dict)]
    elif blocked(parsed):
        choices = [choice(assistant_message("", []), "content_filter")]
    else:
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no candidates")
    return completion(ident, endpoint, choices, canonical_usage(parsed.get("usageMetadata")))


def blocked(parsed: JSON) -> bool:
    feedback = parsed.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


def parts_of(candidate: JSON) -> list[JSON]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def _choice(ident: str, position: int, candidate: JSON) -> JSON:
    index = candidate.get("index")
    index = index if isinstance(index, int) else position
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for part in parts_of(candidate):
        if isinstance(part.get("functionCall"), dict):
            call = part["functionCall"]
            arguments = orjson.dumps(call.get("args") or {}).decode()
            name = str(call.get("name") or "")
            calls.append(tool_call(call_id(ident, index, len(calls), call), name, arguments))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    message = assistant_message("".join(texts), calls, "".join(thoughts), had_text=bool(texts))
    if images := inline_images(parts_of(candidate)):
        message["images"] = images  # image output, the OpenRouter way: base64 data URLs
    return choice(message, finish_reason(candidate.get("finishReason"), bool(calls)), index)


def _error_kind(error: dict[str, Any]) -> ErrorKind:
    code = error.get("code")
    if isinstance(code, int) and code >= 400:
        return kind_for_status(code)
    return ErrorKind.SERVER_ERROR
