"""The whole OpenAI chat request, reduced to the canonical form every protocol reads.

OpenAI still accepts request shapes it has deprecated or that only some upstreams
know; clients send them. :func:`canonical` translates them once, before routing:

- ``functions`` / ``function_call`` become ``tools`` / ``tool_choice`` (one call at a
  time, as the old API made), an assistant's ``function_call`` a tool call, and a
  ``function`` message a ``tool`` message answering it;
- ``tool_choice: {"type": "allowed_tools"}`` becomes the tool list cut to the allowed
  tools, with ``auto`` or ``required``;
- an assistant's refusal (``refusal`` content parts, ``message.refusal``) becomes its
  text, which every protocol can carry.

A client that asked with ``functions`` gets its answer in that shape
(:func:`function_call_answer`, :func:`function_call_chunk`): ``message.function_call``
and ``finish_reason: "function_call"``.

Usage::

    chat = canonical(parse_body(ChatRequest, body))
    if uses_functions(original): answer = function_call_answer(answer)
"""

from __future__ import annotations

from typing import Any

from zdrgate.errors import InvalidRequest
from zdrgate.wire.chat import (
    AllowedToolsChoice,
    AnyTool,
    ChatRequest,
    ContentPart,
    Message,
    NamedToolChoice,
    RefusalPart,
    TextPart,
    Tool,
    ToolCall,
)

JSON = dict[str, Any]
_LEGACY_ID = "call_fn{}"  # ids given to function calls, which the old shape lacks


def uses_functions(request: ChatRequest) -> bool:
    """The client speaks the deprecated function-calling shape (answer it in kind)."""
    return request.functions is not None or request.function_call is not None


def canonical(request: ChatRequest) -> ChatRequest:
    """``request`` in the canonical shape (itself when there is nothing to translate)."""
    changes: dict[str, Any] = {}
    if request.functions is not None or request.function_call is not None:
        changes.update(_functions(request))
    choice = changes.get("tool_choice", request.tool_choice)
    if choice is not None and choice.__class__ is AllowedToolsChoice:
        tools = changes.get("tools", request.tools)
        changes["tools"], changes["tool_choice"] = _allowed(tools, choice)
    for message in request.messages:  # runs on every request: the role first, cheaply
        role = message.role
        if role == "function" or (role == "assistant" and _legacy_assistant(message)):
            changes["messages"] = _messages(request.messages)
            break
    return request.model_copy(update=changes) if changes else request


def _functions(request: ChatRequest) -> JSON:
    if request.tools is not None or request.tool_choice is not None:
        raise InvalidRequest(
            "Send tools and tool_choice, or the deprecated functions and function_call, "
            "not both.",
            param="functions",
        )
    out: JSON = {"parallel_tool_calls": False}  # a function_call answer holds one call
    if request.functions is not None:
        out["tools"] = [Tool(type="function", function=f) for f in request.functions]
    call = request.function_call
    if isinstance(call, str):
        out["tool_choice"] = call
    elif call is not None:
        out["tool_choice"] = NamedToolChoice(type="function", function=call)
    return out


def _allowed(
    tools: list[AnyTool] | None, choice: AllowedToolsChoice
) -> tuple[list[AnyTool], str]:
    names = {ref.name for ref in choice.allowed_tools.tools}
    kept = [t for t in tools or () if _tool_name(t) in names]
    if not kept:
        raise InvalidRequest(
            "tool_choice.allowed_tools names none of the request's tools.", param="tool_choice"
        )
    return kept, choice.allowed_tools.mode


def _tool_name(tool: AnyTool) -> str:
    return tool.function.name if isinstance(tool, Tool) else tool.custom.name


def _legacy_assistant(message: Message) -> bool:
    """An assistant turn with a function call or a refusal (the shapes to translate)."""
    if message.function_call is not None or message.refusal is not None:
        return True
    content = message.content
    return isinstance(content, list) and any(isinstance(p, RefusalPart) for p in content)


def _messages(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    last_call = ""
    for number, given in enumerate(messages):
        message = given
        if given.function_call is not None and not given.tool_calls:
            last_call = _LEGACY_ID.format(number)
            call = ToolCall(id=last_call, type="function", function=given.function_call)
            message = given.model_copy(update={"tool_calls": [call], "function_call": None})
        elif given.role == "function":
            answered = last_call or _LEGACY_ID.format(number)
            update = {"role": "tool", "tool_call_id": answered, "name": None}
            message = given.model_copy(update=update)
        out.append(_without_refusal(message))
    return out


def _without_refusal(message: Message) -> Message:
    content = message.content
    if isinstance(content, list):
        content = [_as_text(p) for p in content]
    if message.refusal and not content:
        content = message.refusal
    if content is message.content and message.refusal is None:
        return message
    return message.model_copy(update={"content": content, "refusal": None})


def _as_text(part: ContentPart) -> ContentPart:
    return TextPart(type="text", text=part.refusal) if isinstance(part, RefusalPart) else part


def function_call_answer(answer: JSON) -> JSON:
    """A chat completion in the deprecated shape: each choice's first tool call as
    ``message.function_call``, ``finish_reason: "function_call"``."""
    for item in answer.get("choices") or ():
        message = item.get("message") or {}
        calls = message.pop("tool_calls", None)
        if calls:
            message["function_call"] = _call(calls[0])
        if item.get("finish_reason") == "tool_calls":
            item["finish_reason"] = "function_call"
    return answer


def function_call_chunk(chunk: JSON) -> JSON:
    """A stream chunk in the deprecated shape (``delta.function_call`` fragments)."""
    for item in chunk.get("choices") or ():
        delta = item.get("delta") or {}
        calls = delta.pop("tool_calls", None)
        first = [c for c in calls or () if c.get("index", 0) == 0]  # the one call it holds
        if first:
            delta["function_call"] = _call(first[0])
        if item.get("finish_reason") == "tool_calls":
            item["finish_reason"] = "function_call"
    return chunk


def _call(call: JSON) -> JSON:
    function = call.get("function") or {}
    return {k: function[k] for k in ("name", "arguments") if k in function}
