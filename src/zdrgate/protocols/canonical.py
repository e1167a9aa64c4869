"""Helpers shared by the protocol adapters: reading the canonical request, and
building canonical (OpenAI-shaped) completions, chunks and usage.

Errors raised here are the gateway's own 4xx errors; their messages name fields,
never the content of one.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from pydantic import ValidationError

from zdrgate.catalog.model import Endpoint
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import (
    ChatRequest,
    CustomTool,
    CustomToolCall,
    Message,
    NamedCustomChoice,
    Tool,
)

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(.*)$", re.DOTALL)
DEFAULT_MAX_TOKENS = 4096
# Thinking budgets (tokens) for an OpenAI-style effort, where a protocol wants a number.
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}


def encode(body: JSON) -> bytes:
    """A request body as JSON bytes; numbers JSON cannot carry portably are a 400."""
    try:
        return orjson.dumps(body)
    except TypeError:
        raise InvalidRequest(
            "The request holds a number that cannot be forwarded (integers must fit in 64 bits)."
        ) from None


def data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a base64 data URL, else None."""
    match = _DATA_URL.match(url)
    return (match.group(1).lower(), match.group(2)) if match else None


def text_of(content: str | list[Any] | None) -> str:
    """The text of a message's content (text parts only, concatenated)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(_part_text(part) for part in content)


def _part_text(part: Any) -> str:
    """A text part's text; an assistant's refusal part is what it said, too."""
    if part.type == "text":
        return str(part.text)
    return str(part.refusal) if part.type == "refusal" else ""


def tool_arguments(raw: str) -> dict[str, Any]:
    """An assistant tool call's JSON arguments as an object ("" means none)."""
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest(
            "A tool call's function.arguments must be a JSON object.", param="messages"
        )
    return parsed


def stop_list(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def max_output(request: ChatRequest, endpoint: Endpoint) -> int:
    """The requested output limit, else the endpoint's, else a conservative default."""
    return (
        request.max_completion_tokens
        or request.max_tokens
        or endpoint.max_output_tokens
        or DEFAULT_MAX_TOKENS
    )


def thinking_budget(request: ChatRequest) -> int | None:
    """Tokens of thinking the request asks for; None when it asks for none."""
    reasoning = request.reasoning
    if reasoning is not None and reasoning.max_tokens is not None:
        return reasoning.max_tokens or None
    effort = (reasoning.effort if reasoning else None) or request.reasoning_effort
    if effort is None and reasoning is not None and reasoning.enabled:
        effort = "medium"
    if effort is None or effort == "none" or (reasoning and reasoning.enabled is False):
        return None
    return EFFORT_BUDGET[effort]


def system_text(messages: list[Message]) -> str:
    """System and developer messages, joined: protocols that take one system prompt."""
    parts = [text_of(m.content) for m in messages if m.role in ("system", "developer")]
    return "\n\n".join(p for p in parts if p)


def refuse_n(request: ChatRequest, protocol: str) -> None:
    """A protocol that answers one choice per call cannot carry ``n > 1`` (the service
    fans it out into n calls before it reaches the codec: its spec's
    ``one_choice_per_call``); a codec asked for it anyway refuses."""
    if request.n is not None and request.n > 1:
        raise InvalidRequest(
            f"n > 1 cannot be sent in one call over the {protocol} protocol, which answers "
            "one choice per call.",
            param="n",
            code="n_unsupported",
        )


def refuse_custom_tools(request: ChatRequest, protocol: str) -> None:
    """Custom (free-form input) tools exist only in OpenAI's protocol."""
    custom = any(isinstance(t, CustomTool) for t in request.tools or ()) or isinstance(
        request.tool_choice, NamedCustomChoice
    )
    custom = custom or any(
        isinstance(c, CustomToolCall) for m in request.messages for c in m.tool_calls or ()
    )
    if custom:
        raise InvalidRequest(
            f"Custom tools (type 'custom') are not supported by the {protocol} protocol; "
            "declare them as function tools.",
            param="tools",
            code="custom_tools_unsupported",
        )


def function_tools(request: ChatRequest) -> list[Tool]:
    """The request's function tools (after :func:`refuse_custom_tools`: all of them)."""
    return [t for t in request.tools or () if isinstance(t, Tool)]


def usage(
    prompt: int, completion: int, *, cached: int | None = None, reasoning: int | None = None
) -> JSON:
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def completion(ident: str, endpoint: Endpoint, choices: list[JSON], use: JSON | None) -> JSON:
    out: JSON = {
        "id": ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": endpoint.model_id,
        "provider": endpoint.provider.name,
        "choices": choices,
    }
    if use is not None:
        out["usage"] = use
    return out


def choice(message: JSON, finish: str | None, index: int = 0) -> JSON:
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish}


def assistant_message(
    text: str, tool_calls: list[JSON], reasoning: str | None = None, *, had_text: bool = True
) -> JSON:
    content = text if (had_text or not tool_calls) else None
    message: JSON = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning"] = reasoning
    return message


def tool_call(ident: str, name: str, arguments: str) -> JSON:
    return {"id": ident, "type": "function", "function": {"name": name, "arguments": arguments}}


def custom_call(ident: str, name: str, text: str) -> JSON:
    """A call of a custom (free-form input) tool, as OpenAI's chat API spells it."""
    return {"id": ident, "type": "custom", "custom": {"name": name, "input": text}}


class ChunkMaker:
    """Canonical ``chat.completion.chunk`` dicts of one stream (same id, created)."""

    def __init__(self, endpoint: Endpoint, ident: str = "chatcmpl-stream") -> None:
        self.endpoint = endpoint
        self.ident = ident
        self.created = int(time.time())

    def _base(self) -> JSON:
        return {
            "id": self.ident,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.endpoint.model_id,
            "provider": self.endpoint.provider.name,
        }

    def delta(self, delta: JSON, finish: str | None = None, index: int = 0) -> JSON:
        entry = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._base(), "choices": [entry]}

    def usage(self, use: JSON) -> JSON:
        return {**self._base(), "choices": [], "usage": use}


def validated_chat(fields: JSON, code: str | None = None) -> ChatRequest:
    """The canonical request an inbound API's translation built (``None`` values left
    out), validated as ``/v1/chat/completions`` validates; the first problem is a 400
    naming the canonical field (``code``: the inbound API's code for it)."""
    try:
        return ChatRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        loc = ".".join(str(p) for p in error["loc"])
        message = f"Invalid value for '{loc}': {error['msg']}."
        raise InvalidRequest(message, param=loc, code=code) from None
