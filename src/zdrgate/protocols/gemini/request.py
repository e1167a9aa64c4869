"""Canonical chat request -> Gemini ``generateContent`` body (Google AI Studio).

- system and developer messages become ``systemInstruction``; ``assistant`` is
  ``model``; consecutive turns of one role merge;
- images, audio and inline files travel as ``inlineData``. AI Studio cannot fetch an
  https image URL, so one is refused (400): send the image as a data URL;
- tool calls become ``functionCall`` parts; a tool message becomes a
  ``functionResponse`` named after the call it answers (found by ``tool_call_id`` in
  an earlier assistant turn). Gemini 3 wants the thought signature of a replayed
  function call; the OpenAI shape cannot carry it, so the value Google documents for
  replayed histories is sent instead;
- ``response_format`` becomes ``responseMimeType`` (+ ``responseSchema``);
- reasoning becomes ``thinkingConfig``.

Nothing that makes Google store content is ever built here (no ``cachedContent``):
``ChatRequest`` refuses unknown fields, so a client cannot add one either.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from zdrgate.errors import InvalidRequest
from zdrgate.protocols.canonical import (
    data_url,
    function_tools,
    refuse_custom_tools,
    stop_list,
    system_text,
    text_of,
    thinking_budget,
    tool_arguments,
)
from zdrgate.protocols.common import append_turn
from zdrgate.protocols.gemini.schema import gemini_schema
from zdrgate.wire.chat import ChatRequest, Message, NamedToolChoice

REPLAYED_SIGNATURE = "skip_thought_signature_validator"


def model_target(upstream_id: str, method: str) -> str:
    """``/models/{id}:{method}`` with the id quoted, so an upstream id from config can
    add no path segment, query or fragment (every route: chat, images, embeddings)."""
    model = quote(upstream_id.removeprefix("models/"), safe="-._~")
    return f"/models/{model}:{method}"


def request_body(request: ChatRequest) -> dict[str, Any]:
    refuse_custom_tools(request, "gemini")
    body: dict[str, Any] = {"contents": contents(request.messages)}
    if system := system_text(request.messages):
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": _declarations(request)}]
        body["toolConfig"] = {"functionCallingConfig": _calling(request.tool_choice)}
    if config := generation_config(request):
        body["generationConfig"] = config
    return body


def contents(messages: list[Message]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool_call_id -> function name, from earlier turns
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            continue
        if message.role == "assistant":
            role, parts = "model", _model_parts(message, names)
        elif message.role == "tool":
            role, parts = "user", [_function_response(message, names)]
        else:
            role, parts = "user", _parts(message.content)
        if not parts:
            continue
        append_turn(turns, role, "parts", parts)
    if not turns:
        raise InvalidRequest(
            "The request needs at least one user or assistant message with content.",
            param="messages",
        )
    return turns


def _parts(content: str | list[Any] | None) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [p for part in content or () if (p := _part(part)) is not None]


def _part(part: Any) -> dict[str, Any] | None:
    if part.type in ("text", "refusal"):  # an earlier refusal is what the model said
        text = part.text if part.type == "text" else part.refusal
        return {"text": text} if text else None
    if part.type == "image_url":
        return _inline(part.image_url.url, "An image")
    if part.type == "input_audio":
        fmt = str(part.input_audio.format).lower()
        return {"inlineData": {"mimeType": f"audio/{fmt}", "data": part.input_audio.data}}
    if part.file.file_data:
        return _inline(part.file.file_data, "A file")
    raise InvalidRequest("A file part must carry file_data as a data URL.", param="messages")


def _inline(url: str, what: str) -> dict[str, Any]:
    inline = data_url(url)
    if inline is None:
        raise InvalidRequest(
            f"{what} sent to a Gemini endpoint must be a base64 data URL "
            "(data:<mime>;base64,...); Gemini cannot fetch URLs inline.",
            param="messages",
        )
    return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}


def _model_parts(message: Message, names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _parts(message.content)
    for number, call in enumerate(message.function_calls()):
        names[call.id] = call.function.name
        function = {"name": call.function.name, "args": tool_arguments(call.function.arguments)}
        part: dict[str, Any] = {"functionCall": function}
        if number == 0:
            part["thoughtSignature"] = REPLAYED_SIGNATURE
        parts.append(part)
    return parts


def _function_response(message: Message, names: dict[str, str]) -> dict[str, Any]:
    name = names.get(message.tool_call_id or "")
    if name is None:
        raise InvalidRequest(
            "A tool message's tool_call_id must match a tool call of an earlier assistant message.",
            param="messages",
        )
    return {"functionResponse": {"name": name, "response": _response_object(message)}}


def _response_object(message: Message) -> dict[str, Any]:
    """Gemini wants an object: a JSON object result as is, anything else wrapped."""
    text = text_of(message.content)
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"result": text}


def _declarations(request: ChatRequest) -> list[dict[str, Any]]:
    out = []
    for tool in function_tools(request):
        function = tool.function
        declaration: dict[str, Any] = {"name": function.name}
        if function.description:
            declaration["description"] = function.description
        if function.parameters and function.parameters.get("properties"):
            declaration["parameters"] = gemini_schema(function.parameters, "tools")
        out.append(declaration)
    return out


def _calling(choice: object) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}
    named = {"required": "ANY", "none": "NONE"}
    return {"mode": named.get(choice, "AUTO") if isinstance(choice, str) else "AUTO"}


def generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {
        "temperature": request.temperature,
        "topP": request.top_p,
        "topK": request.top_k,
        "maxOutputTokens": request.max_completion_tokens or request.max_tokens,
        "candidateCount": request.n,
        "seed": request.seed,
        "presencePenalty": request.presence_penalty,
        "frequencyPenalty": request.frequency_penalty,
        "stopSequences": stop_list(request.stop) or None,
    }
    config = {k: v for k, v in config.items() if v is not None}
    if request.wants_images():
        config["responseModalities"] = ["TEXT", "IMAGE"]
    _response_format(config, request)
    if thinking := _thinking(request):
        config["thinkingConfig"] = thinking
    return config


def _response_format(config: dict[str, Any], request: ChatRequest) -> None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return
    config["responseMimeType"] = "application/json"
    if fmt.type == "json_schema" and fmt.json_schema and fmt.json_schema.schema_:
        config["responseSchema"] = gemini_schema(fmt.json_schema.schema_, "response_format")


def _thinking(request: ChatRequest) -> dict[str, Any] | None:
    reasoning = request.reasoning
    effort = (reasoning.effort if reasoning else None) or request.reasoning_effort
    if effort == "none" or (reasoning is not None and reasoning.enabled is False):
        return {"thinkingBudget": 0}
    budget = thinking_budget(request)
    if budget is None:
        return None
    show = not (reasoning is not None and reasoning.exclude)
    return {"thinkingBudget": budget, "includeThoughts": show}
