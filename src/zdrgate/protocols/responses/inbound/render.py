"""Canonical completion -> Responses API ``response`` object, for the inbound
``/v1/responses`` API; the pieces the stream events (:mod:`.events`) share with it:
ids, the response's echo of the request, output items, usage, the error body.

Every answer says ``store: false``: nothing was stored, whatever the request asked.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from zdrgate.errors import GatewayError
from zdrgate.protocols.common import JSON, int_field
from zdrgate.protocols.responses.inbound.models import ResponsesRequest

# Canonical finish reasons that end a response "incomplete", with OpenAI's reason.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def error_body(error: GatewayError) -> JSON:
    """The OpenAI error envelope, as on every other OpenAI-shaped route."""
    return error.envelope()


def skeleton(request: ResponsesRequest, ident: str, model: object, status: str) -> JSON:
    """The response object's fields that echo the request (OpenAI's order)."""
    return {
        "id": ident,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "model": model if isinstance(model, str) and model else request.model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": None,
        "reasoning": _reasoning(request),
        "service_tier": request.service_tier,
        "store": False,
        "temperature": request.temperature,
        "text": _text(request),
        "tool_choice": _tool_choice(request),
        "tools": [t.model_dump(exclude_none=True) for t in request.tools or ()],
        "top_p": request.top_p,
        "truncation": "disabled",
        "usage": None,
        "user": request.user,
        "metadata": request.metadata or {},
    }


def _reasoning(request: ResponsesRequest) -> JSON:
    reasoning = request.reasoning
    if reasoning is None:
        return {"effort": None, "summary": None}
    return {"effort": reasoning.effort, "summary": reasoning.summary}


def _text(request: ResponsesRequest) -> JSON:
    text = request.text
    fmt = text.format if text else None
    out: JSON = {"format": {"type": "text"}}
    if fmt is not None:
        out["format"] = fmt.model_dump(exclude_none=True, by_alias=True)
    if text is not None and text.verbosity:
        out["verbosity"] = text.verbosity
    return out


def _tool_choice(request: ResponsesRequest) -> Any:
    choice = request.tool_choice
    if choice is None:
        return "auto"
    return choice if isinstance(choice, str) else choice.model_dump(exclude_none=True)


def usage_of(raw: object) -> JSON | None:
    """Canonical (chat) usage -> Responses usage; None when the upstream gave none."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = int_field(raw, "prompt_tokens"), int_field(raw, "completion_tokens")
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int_field(raw.get("prompt_tokens_details"), "cached_tokens"),
            "cache_write_tokens": 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": int_field(raw.get("completion_tokens_details"), "reasoning_tokens")
        },
        "total_tokens": int_field(raw, "total_tokens") or prompt + completion,
    }


def finish(response: JSON, finish_reason: object) -> JSON:
    """Set the final status from the canonical finish reason."""
    reason = INCOMPLETE.get(str(finish_reason))
    response["status"] = "incomplete" if reason else "completed"
    response["incomplete_details"] = {"reason": reason} if reason else None
    return response


def reasoning_item(ident: str, text: str, status: str) -> JSON:
    return {
        "id": ident,
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}] if text else [],
        "status": status,
    }


def text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(ident: str, content: list[JSON], status: str) -> JSON:
    return {
        "id": ident,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def call_item(
    ident: str, call_id: str, name: str, arguments: str, status: str, custom: bool = False
) -> JSON:
    """A ``function_call`` item, or (``custom``) a ``custom_tool_call`` with its input."""
    kind, key = ("custom_tool_call", "input") if custom else ("function_call", "arguments")
    return {
        "id": ident,
        "type": kind,
        "status": status,
        "call_id": call_id,
        "name": name,
        key: arguments,
    }


def to_response(completion: JSON, request: ResponsesRequest) -> JSON:
    """A whole (not streamed) completion as a Responses ``response`` object."""
    choices = completion.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    response = skeleton(request, new_id("resp"), completion.get("model"), "completed")
    created = completion.get("created")
    if isinstance(created, int):
        response["created_at"] = created
    response["output"] = output_items(message or {})
    response["usage"] = usage_of(completion.get("usage"))
    return finish(response, first.get("finish_reason"))


def output_items(message: JSON) -> list[JSON]:
    items: list[JSON] = []
    reasoning = message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        items.append(reasoning_item(new_id("rs"), reasoning, "completed"))
    content: list[JSON] = []
    if isinstance(message.get("content"), str) and message["content"]:
        content.append(text_part(message["content"]))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        content.append({"type": "refusal", "refusal": message["refusal"]})
    if content:
        items.append(message_item(new_id("msg"), content, "completed"))
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        name, text, custom = call_parts(call)
        call_id = str(call.get("id") or new_id("call"))
        items.append(call_item(new_id("ctc" if custom else "fc"), call_id, name, text,
                               "completed", custom))  # fmt: skip
    return items


def call_parts(call: object) -> tuple[str, str, bool]:
    """A canonical tool call's (or call delta's) name, its arguments or custom input,
    and whether it is a custom tool call."""
    if not isinstance(call, dict):
        return "", "", False
    custom = call.get("type") == "custom" or "custom" in call
    body = call.get("custom" if custom else "function")
    body = body if isinstance(body, dict) else {}
    text = body.get("input" if custom else "arguments")
    return str(body.get("name") or ""), text if isinstance(text, str) else "", custom
