"""Canonical ``ChatRequest`` -> OpenAI Responses API request body (outbound).

``store`` is always false: the provider keeps no response to look up later, so the
whole conversation goes as ``input`` items every time (system and developer messages
as messages of their role, assistant tool calls as ``function_call`` or
``custom_tool_call`` items, tool results as ``function_call_output`` or
``custom_tool_call_output`` items). Custom (free-form input) tools are the Responses
API's own ``custom`` tools. Chat fields the Responses API has no form
for are refused with a 400 naming them rather than dropped.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from zdrgate.catalog.model import Endpoint
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.canonical import refuse_n, text_of
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import (
    ChatRequest,
    CustomTool,
    CustomToolCall,
    Message,
    NamedCustomChoice,
    NamedToolChoice,
    ToolCall,
)

# Chat fields the Responses API does not take (a silent drop would change the answer).
UNSUPPORTED = (
    "stop",
    "seed",
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "top_k",
    "min_p",
    "repetition_penalty",
    "logprobs",
    "top_logprobs",
    "modalities",
)


def request_body(endpoint: Endpoint, request: ChatRequest) -> JSON:
    refuse_unsupported(request)
    custom = {c.id for m in request.messages for c in m.tool_calls or () if c.type == "custom"}
    body: JSON = {
        "input": [item for m in request.messages for item in input_items(m, custom)],
        "store": False,
        "stream": request.stream,
    }
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_output_tokens": request.max_completion_tokens or request.max_tokens,
        "parallel_tool_calls": request.parallel_tool_calls,
        "service_tier": request.service_tier,
        "reasoning": _reasoning(request),
        "text": _text(request),
        "tools": _tools(request),
        "tool_choice": _tool_choice(request),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def refuse_unsupported(request: ChatRequest) -> None:
    refuse_n(request, "responses")
    for field in UNSUPPORTED:
        if getattr(request, field) is not None:
            raise InvalidRequest(
                f"'{field}' is not supported by the OpenAI Responses API this model is "
                "served over.",
                param=field,
                code="unsupported_parameter",
            )


def input_items(message: Message, custom_ids: Set[str] = frozenset()) -> list[JSON]:
    """A message as input items; ``custom_ids``: the ids of custom tool calls so far (a
    tool result answering one is a ``custom_tool_call_output``)."""
    if message.role == "tool":
        return [_call_output(message, message.tool_call_id in custom_ids)]
    items: list[JSON] = []
    if message.role == "assistant":
        text = text_of(message.content)
        if text:
            items.append({"type": "message", "role": "assistant", "content": text})
        items += [_call_item(call) for call in message.tool_calls or ()]
        return items
    content: Any = message.content
    parts = content if isinstance(content, str) else [_part(p) for p in content or ()]
    return [{"type": "message", "role": message.role, "content": parts}]


def _call_item(call: ToolCall | CustomToolCall) -> JSON:
    if isinstance(call, CustomToolCall):
        return {
            "type": "custom_tool_call",
            "call_id": call.id,
            "name": call.custom.name,
            "input": call.custom.input,
        }
    return {
        "type": "function_call",
        "call_id": call.id,
        "name": call.function.name,
        "arguments": call.function.arguments,
    }


def _call_output(message: Message, custom: bool) -> JSON:
    content: Any = message.content
    output = content if isinstance(content, str) else [_part(p) for p in content or ()]
    kind = "custom_tool_call_output" if custom else "function_call_output"
    return {"type": kind, "call_id": message.tool_call_id or "", "output": output}


def _part(part: Any) -> JSON:
    if part.type == "text":
        return {"type": "input_text", "text": part.text}
    if part.type == "image_url":
        image: JSON = {"type": "input_image", "image_url": part.image_url.url}
        image["detail"] = part.image_url.detail or "auto"
        return image
    if part.type == "file" and part.file.file_data:
        return {
            "type": "input_file",
            "filename": part.file.filename,
            "file_data": part.file.file_data,
        }
    raise InvalidRequest(
        f"Content parts of type '{part.type}' are not supported by the OpenAI Responses API "
        "this model is served over.",
        param="messages",
    )


def _reasoning(request: ChatRequest) -> JSON | None:
    effort = request.reasoning_effort or (request.reasoning.effort if request.reasoning else None)
    return {"effort": effort} if effort else None


def _text(request: ChatRequest) -> JSON | None:
    text: JSON = {}
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        text["format"] = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema" and fmt.json_schema is not None:
        schema = fmt.json_schema
        text["format"] = {
            "type": "json_schema",
            "name": schema.name,
            "schema": schema.schema_ or {},
        }
        if schema.strict is not None:
            text["format"]["strict"] = schema.strict
        if schema.description is not None:
            text["format"]["description"] = schema.description
    if request.verbosity:
        text["verbosity"] = request.verbosity
    return text or None


def _tools(request: ChatRequest) -> list[JSON] | None:
    if not request.tools:
        return None
    tools = []
    for tool in request.tools:
        if isinstance(tool, CustomTool):
            tools.append(_custom_tool(tool))
            continue
        function = tool.function
        out: JSON = {"type": "function", "name": function.name}
        out["parameters"] = function.parameters or {"type": "object", "properties": {}}
        if function.description is not None:
            out["description"] = function.description
        out["strict"] = bool(function.strict)
        tools.append(out)
    return tools


def _custom_tool(tool: CustomTool) -> JSON:
    """Chat's ``{"type": "custom", "custom": {...}}`` as the Responses API's flat tool;
    a grammar's ``{"grammar": {"definition", "syntax"}}`` flattened into the format."""
    out: JSON = {"type": "custom", "name": tool.custom.name}
    if tool.custom.description is not None:
        out["description"] = tool.custom.description
    fmt = tool.custom.format
    if fmt is not None and fmt.type == "grammar":
        grammar = fmt.grammar or {}
        out["format"] = {"type": "grammar", **{k: grammar[k] for k in grammar if k in _GRAMMAR}}
    elif fmt is not None:
        out["format"] = {"type": "text"}
    return out


_GRAMMAR = ("definition", "syntax")


def _tool_choice(request: ChatRequest) -> Any:
    choice = request.tool_choice
    if choice is None or isinstance(choice, str):
        return choice
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "name": choice.function.name}
    if isinstance(choice, NamedCustomChoice):
        return {"type": "custom", "name": choice.custom.name}
    allowed = choice.allowed_tools
    tools = [{"type": t.type, "name": t.name} for t in allowed.tools if t.name]
    return {"type": "allowed_tools", "mode": allowed.mode, "tools": tools}
