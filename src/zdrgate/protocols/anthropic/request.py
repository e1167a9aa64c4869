"""Canonical chat request -> Anthropic Messages request body.

- system and developer messages become ``system``; consecutive turns of one role merge
  (tool results become ``tool_result`` blocks of a user turn);
- images: a base64 data URL becomes a base64 source, an https URL a url source;
  a PDF sent inline as ``file_data`` becomes a document block;
- ``max_tokens`` is required upstream: the request's, else the endpoint's limit, else 4096;
- reasoning (effort or budget) becomes extended thinking; Anthropic forbids sampling
  changes with thinking, so temperature and top_k are then left out, and a forced tool
  choice leaves thinking off;
- temperature is clamped to Anthropic's range [0, 1]; seed, penalties, logit_bias and
  logprobs have no Anthropic equivalent and are not sent;
- ``user`` and ``metadata`` never leave (no ``metadata.user_id``); an echoed
  ``reasoning`` is dropped (Anthropic needs a signature the OpenAI shape cannot carry).
"""

from __future__ import annotations

from typing import Any

from zdrgate.catalog.model import Endpoint
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.canonical import (
    data_url,
    function_tools,
    max_output,
    refuse_custom_tools,
    refuse_n,
    stop_list,
    system_text,
    thinking_budget,
    tool_arguments,
)
from zdrgate.protocols.common import append_turn
from zdrgate.wire.chat import ChatRequest, Message, NamedToolChoice

_MIN_THINKING = 1024  # Anthropic's smallest budget_tokens


def request_body(endpoint: Endpoint, request: ChatRequest) -> dict[str, Any]:
    refuse_n(request, "anthropic")
    refuse_custom_tools(request, "anthropic")
    body: dict[str, Any] = {
        "model": endpoint.upstream_id,
        "max_tokens": max_output(request, endpoint),
        "messages": messages(request.messages),
    }
    if system := system_text(request.messages):
        body["system"] = system
    if stops := stop_list(request.stop):
        body["stop_sequences"] = stops
    _tools(body, request)
    _thinking(body, request)
    _sampling(body, request)
    if request.stream:
        body["stream"] = True
    return body


def messages(source: list[Message]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for message in source:
        if message.role in ("system", "developer"):
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _assistant_blocks(message) if role == "assistant" else _user_blocks(message)
        if not blocks:
            continue  # Anthropic refuses empty turns; an empty message says nothing
        append_turn(turns, role, "content", blocks)
    if not turns:
        raise InvalidRequest(
            "The request needs at least one user or assistant message with content.",
            param="messages",
        )
    return turns


def _user_blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [_tool_result(message)]
    return _content_blocks(message.content)


def _content_blocks(content: str | list[Any] | None) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [block for part in content or () if (block := _part(part)) is not None]


def _tool_result(message: Message) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequest("A tool message needs a tool_call_id.", param="messages")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = message.content
    if isinstance(content, str) and content:
        block["content"] = content
    elif isinstance(content, list):
        parts = [b for part in content if (b := _part(part)) is not None]
        if parts:
            block["content"] = parts
    return block


def _part(part: Any) -> dict[str, Any] | None:
    if part.type in ("text", "refusal"):  # an earlier refusal is what the assistant said
        text = part.text if part.type == "text" else part.refusal
        return {"type": "text", "text": text} if text else None
    if part.type == "image_url":
        return {"type": "image", "source": _image_source(part.image_url.url)}
    if part.type == "file" and part.file.file_data:
        inline = data_url(part.file.file_data)
        if inline and inline[0] == "application/pdf":
            source = {"type": "base64", "media_type": inline[0], "data": inline[1]}
            return {"type": "document", "source": source}
    raise InvalidRequest(
        f"Content parts of type {part.type!r} in this form are not supported by the "
        "anthropic protocol (images and inline PDFs are).",
        param="messages",
    )


def _image_source(url: str) -> dict[str, Any]:
    inline = data_url(url)
    if inline is not None:
        return {"type": "base64", "media_type": inline[0], "data": inline[1]}
    if url.startswith("https://"):
        return {"type": "url", "url": url}
    raise InvalidRequest("An image must be an https URL or a base64 data URL.", param="messages")


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks = _content_blocks(message.content)
    for call in message.function_calls():
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_arguments(call.function.arguments),
            }
        )
    return blocks


def _tools(body: dict[str, Any], request: ChatRequest) -> None:
    tools = function_tools(request)
    if not tools:
        return
    body["tools"] = [
        {
            "name": tool.function.name,
            **({"description": tool.function.description} if tool.function.description else {}),
            "input_schema": tool.function.parameters or {"type": "object", "properties": {}},
        }
        for tool in tools
    ]
    choice = _tool_choice(request.tool_choice)
    if request.parallel_tool_calls is False and choice.get("type") != "none":
        choice["disable_parallel_tool_use"] = True
    if choice != {"type": "auto"}:
        body["tool_choice"] = choice


def _tool_choice(choice: object) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"type": "tool", "name": choice.function.name}
    named = {"required": "any", "none": "none"}
    return {"type": named.get(choice, "auto") if isinstance(choice, str) else "auto"}


def _thinking(body: dict[str, Any], request: ChatRequest) -> None:
    budget = thinking_budget(request)
    forced = body.get("tool_choice", {}).get("type") in ("any", "tool")
    if budget is None or forced:
        return
    budget = max(budget, _MIN_THINKING)
    if budget >= body["max_tokens"]:
        budget = body["max_tokens"] - 1
    if budget >= _MIN_THINKING:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _sampling(body: dict[str, Any], request: ChatRequest) -> None:
    thinking = "thinking" in body
    if request.temperature is not None and not thinking:
        body["temperature"] = min(request.temperature, 1.0)
    if request.top_k is not None and not thinking:
        body["top_k"] = request.top_k
    if request.top_p is not None and (not thinking or request.top_p >= 0.95):
        body["top_p"] = request.top_p
