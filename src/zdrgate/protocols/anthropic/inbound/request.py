"""Anthropic Messages request (inbound ``/v1/messages``) -> canonical ``ChatRequest``.

The reverse direction (canonical completion and chunks -> Anthropic message and
events) is :mod:`.render`. Translation is lossless for what both shapes
have; thinking signatures and redacted thinking have no canonical form and are
dropped (an upstream of another protocol could not check them anyway).
"""

from __future__ import annotations

from typing import Any

import orjson

from zdrgate.errors import InvalidRequest
from zdrgate.protocols.anthropic.inbound.models import (
    Block,
    DocumentBlock,
    ImageBlock,
    InputMessage,
    MessagesRequest,
    TextBlock,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from zdrgate.protocols.canonical import validated_chat
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import ChatRequest


def to_chat_request(request: MessagesRequest) -> ChatRequest:
    messages: list[JSON] = []
    if system := _system(request.system):
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        messages.extend(_messages(message))
    chat: JSON = {
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "stream": request.stream,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "stop": request.stop_sequences or None,
    }
    _tools(chat, request)
    _thinking(chat, request)
    return validated_chat(chat)


def _system(system: str | list[TextBlock] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n\n".join(block.text for block in system if block.text)


def _messages(message: InputMessage) -> list[JSON]:
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [_assistant(message.content)]
    # Tool results answer the previous assistant turn, so they come first.
    results = [_tool_result(b) for b in message.content if isinstance(b, ToolResultBlock)]
    parts = [p for b in message.content if (p := _part(b)) is not None]
    return results + ([{"role": "user", "content": parts}] if parts or not results else [])


def _assistant(blocks: list[Block]) -> JSON:
    text = "".join(b.text for b in blocks if isinstance(b, TextBlock))
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": _dumps(b.input)},
        }
        for b in blocks
        if isinstance(b, ToolUseBlock)
    ]
    message: JSON = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_result(block: ToolResultBlock) -> JSON:
    content: str | list[JSON] | None = block.content if isinstance(block.content, str) else None
    if isinstance(block.content, list):
        content = [p for b in block.content if (p := _part(b)) is not None]
    return {"role": "tool", "tool_call_id": block.tool_use_id, "content": content or ""}


def _part(block: Any) -> JSON | None:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ImageBlock):
        source = block.source
        url = source.url if source.type == "url" else _data_url(source.media_type, source.data)
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(block, DocumentBlock):
        return _document(block)
    if isinstance(block, ToolUseBlock):
        raise InvalidRequest("tool_use blocks belong in assistant messages.", param="messages")
    return None  # thinking blocks in a user turn, tool results (handled apart)


def _document(block: DocumentBlock) -> JSON:
    source = block.source
    if source.type == "text":
        return {"type": "text", "text": source.data}
    if source.type == "base64":
        data = _data_url(source.media_type, source.data)
        return {"type": "file", "file": {"filename": block.title, "file_data": data}}
    raise InvalidRequest(
        "Documents must be sent inline (base64 or text); zdrgate does not fetch URLs.",
        param="messages",
    )


def _data_url(media_type: str, data: str) -> str:
    return f"data:{media_type};base64,{data}"


def _dumps(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits: a 400, as canonical.encode answers
        raise InvalidRequest(
            "The request holds a number that cannot be forwarded (integers must fit in 64 bits).",
            param="messages",
        ) from None


def _tools(chat: JSON, request: MessagesRequest) -> None:
    if request.tools:
        chat["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                },
            }
            for tool in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        chat["tool_choice"] = _tool_choice(choice)
        if choice.disable_parallel_tool_use:
            chat["parallel_tool_calls"] = False


def _tool_choice(choice: ToolChoice) -> str | JSON:
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequest("tool_choice of type 'tool' needs a name.", param="tool_choice")
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "any": "required", "none": "none"}[choice.type]


def _thinking(chat: JSON, request: MessagesRequest) -> None:
    thinking = request.thinking
    if thinking is None or thinking.type == "disabled":
        return
    if thinking.budget_tokens:
        chat["reasoning"] = {"max_tokens": thinking.budget_tokens}
    else:
        chat["reasoning"] = {"enabled": True}
