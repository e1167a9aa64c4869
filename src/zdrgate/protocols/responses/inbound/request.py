"""Responses API request (inbound ``/v1/responses``) -> canonical ``ChatRequest``.

``instructions`` become the system message; ``input`` (a string, or items) becomes
the turns: messages with their parts, ``function_call`` and ``custom_tool_call``
items as the assistant's tool calls (consecutive ones merged into one turn), their
``..._output`` items as tool results; custom tools as chat's custom tools. Reasoning
items sent back are dropped (no protocol could check them).
Everything that needs state at OpenAI or a third party is refused with its reason.
The reverse direction is :mod:`.render` and :mod:`.events`.
"""

from __future__ import annotations

from zdrgate.errors import InvalidRequest, StorageFeatureRefused
from zdrgate.protocols.canonical import custom_call, tool_call, validated_chat
from zdrgate.protocols.common import JSON
from zdrgate.protocols.responses.inbound.models import (
    AllowedTools,
    CustomCallItem,
    CustomCallOutputItem,
    CustomChoice,
    CustomTool,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionChoice,
    FunctionTool,
    InputFile,
    InputImage,
    InputItem,
    InputText,
    MessageItem,
    OtherItem,
    Part,
    ReasoningItem,
    Refusal,
    ResponsesRequest,
    TextFormat,
    ToolChoice,
)
from zdrgate.wire.chat import ChatRequest

# Tools that OpenAI runs itself: the content would go to a search engine, a file
# store, a sandbox or an MCP server, none of which a ZDR record covers.
HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "computer",
        "computer_use_preview",
        "image_generation",
        "mcp",
        "local_shell",
        "shell",
        "apply_patch",
        "tool_search",
        "programmatic_tool_calling",
    }
)

# Other types of OpenAI's API, named in refusals (a type not listed is not quoted back:
# the error message would carry whatever the client put there).
KNOWN_TOOLS = frozenset({"namespace"})
KNOWN_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "image_generation_call",
        "code_interpreter_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "mcp_call",
        "tool_search_call",
        "tool_search_output",
        "compaction",
        "additional_tools",
    }
)


def to_chat_request(request: ResponsesRequest) -> ChatRequest:
    refuse_state(request)
    messages: list[JSON] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    if isinstance(request.input, str):
        messages.append({"role": "user", "content": request.input})
    else:
        for item in request.input:
            _add_item(messages, item)
    if not messages:
        raise InvalidRequest("'input' holds no message.", param="input", code="invalid_value")
    chat: JSON = {
        "model": request.model,
        "models": request.models,
        "provider": request.provider.model_dump(exclude_none=True) if request.provider else None,
        "messages": messages,
        "stream": request.stream,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_completion_tokens": request.max_output_tokens,
        "parallel_tool_calls": request.parallel_tool_calls,
        "service_tier": request.service_tier,
        "reasoning_effort": request.reasoning.effort if request.reasoning else None,
        "verbosity": request.text.verbosity if request.text else None,
        "response_format": _format(request.text.format if request.text else None),
    }
    _tools(chat, request)
    return validated_chat(chat, code="invalid_value")


def refuse_state(request: ResponsesRequest) -> None:
    """Refuse what would make OpenAI (or anyone) keep or look up content."""
    stateful = {
        "previous_response_id": request.previous_response_id is not None,
        "conversation": request.conversation is not None,
        "background": bool(request.background),
        "prompt": request.prompt is not None,
    }
    for field, used in stateful.items():
        if used:
            raise StorageFeatureRefused(
                f"'{field}' needs state kept at the provider (stored responses, "
                "conversations, background runs or stored prompts); zdrgate is "
                "stateless by design: send the whole conversation as 'input'.",
                param=field,
            )
    if request.truncation == "auto":
        raise InvalidRequest(
            "truncation 'auto' is not supported: zdrgate does not drop input items; "
            "send 'disabled' or leave it out.",
            param="truncation",
            code="unsupported_parameter",
        )


def _add_item(messages: list[JSON], item: InputItem) -> None:
    if isinstance(item, MessageItem):
        messages.append(_message(item))
    elif isinstance(item, FunctionCallItem | CustomCallItem):
        _add_call(messages, item)
    elif isinstance(item, FunctionCallOutputItem | CustomCallOutputItem):
        messages.append(_call_output(item))
    elif isinstance(item, OtherItem):
        _refuse_item(item)
    else:
        assert isinstance(item, ReasoningItem)  # dropped: see the module's docstring


def _message(item: MessageItem) -> JSON:
    if isinstance(item.content, str):
        return {"role": item.role, "content": item.content}
    if item.role == "assistant":
        text = "".join(_text_of(p) for p in item.content)
        return {"role": "assistant", "content": text}
    return {"role": item.role, "content": [_part(p, "input") for p in item.content]}


def _text_of(part: Part) -> str:
    if isinstance(part, InputText):
        return part.text
    if isinstance(part, Refusal):
        return part.refusal
    raise InvalidRequest(
        "An assistant message holds only text (output_text or refusal parts).",
        param="input",
        code="invalid_value",
    )


def _add_call(messages: list[JSON], item: FunctionCallItem | CustomCallItem) -> None:
    if isinstance(item, CustomCallItem):
        call = custom_call(item.call_id, item.name, item.input)
    else:
        call = tool_call(item.call_id, item.name, item.arguments)
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        if not last.get("content"):
            last["content"] = None
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _call_output(item: FunctionCallOutputItem | CustomCallOutputItem) -> JSON:
    output = item.output
    content: str | list[JSON] = (
        output if isinstance(output, str) else [_part(p, "input") for p in output]
    )
    return {"role": "tool", "tool_call_id": item.call_id, "content": content}


def _part(part: Part, param: str) -> JSON:
    if isinstance(part, InputText):
        return {"type": "text", "text": part.text}
    if isinstance(part, InputImage):
        return _image(part, param)
    if isinstance(part, InputFile):
        return _file(part, param)
    return {"type": "text", "text": part.refusal}


def _image(part: InputImage, param: str) -> JSON:
    if part.file_id:
        raise _stored_file(param)
    if not part.image_url:
        raise InvalidRequest(
            "An input_image needs an image_url.", param=param, code="invalid_value"
        )
    url: JSON = {"url": part.image_url}
    if part.detail in ("low", "high", "auto"):
        url["detail"] = part.detail
    return {"type": "image_url", "image_url": url}


def _file(part: InputFile, param: str) -> JSON:
    if part.file_id:
        raise _stored_file(param)
    if part.file_url or not part.file_data:
        raise InvalidRequest(
            "Files must be sent inline as file_data; zdrgate does not fetch file URLs.",
            param=param,
            code="invalid_value",
        )
    return {"type": "file", "file": {"filename": part.filename, "file_data": part.file_data}}


def _stored_file(param: str) -> StorageFeatureRefused:
    return StorageFeatureRefused(
        "File ids refer to files stored at a provider; zdrgate cannot use stored files. "
        "Send the content inline instead.",
        param=param,
    )


def _refuse_item(item: OtherItem) -> None:
    if item.type == "item_reference":
        raise StorageFeatureRefused(
            "Item references point at items stored at OpenAI; zdrgate is stateless: "
            "send the items themselves.",
            param="input",
        )
    kind = f"'{item.type}'" if item.type in KNOWN_ITEMS else "this"
    raise InvalidRequest(
        f"Input items of {kind} type are not supported: zdrgate serves messages, "
        "function_call, function_call_output, custom_tool_call, custom_tool_call_output "
        "and reasoning items.",
        param="input",
        code="unsupported_item_type",
    )


def _format(fmt: TextFormat | None) -> JSON | None:
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    if not fmt.name or fmt.schema_ is None:
        raise InvalidRequest(
            "text.format of type 'json_schema' needs a name and a schema.",
            param="text.format",
            code="missing_required_parameter",
        )
    schema: JSON = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    if fmt.description is not None:
        schema["description"] = fmt.description
    return {"type": "json_schema", "json_schema": schema}


def _tools(chat: JSON, request: ResponsesRequest) -> None:
    tools = [_function(tool) for tool in request.tools or ()]
    if tools:
        chat["tools"] = tools
    choice = request.tool_choice
    if choice is None:
        return
    if isinstance(choice, AllowedTools):
        allowed = {
            (t.get("type"), t.get("name")) for t in choice.tools if t.get("type") in _CALLABLE
        }
        chat["tools"] = [t for t in tools if (t["type"], t[t["type"]]["name"]) in allowed]
        chat["tool_choice"] = choice.mode
    else:
        chat["tool_choice"] = _tool_choice(choice)


_CALLABLE = ("function", "custom")


def _function(tool: object) -> JSON:
    if isinstance(tool, CustomTool):
        return _custom(tool)
    if not isinstance(tool, FunctionTool):
        kind = getattr(tool, "type", "")
        raise _refused_tool(kind)
    function: JSON = {"name": tool.name, "parameters": tool.parameters or _EMPTY}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


_EMPTY: JSON = {"type": "object", "properties": {}}


def _custom(tool: CustomTool) -> JSON:
    """The Responses API's flat custom tool as chat's; a grammar's ``definition`` and
    ``syntax`` go back under ``grammar``."""
    custom: JSON = {"name": tool.name}
    if tool.description is not None:
        custom["description"] = tool.description
    fmt = tool.format
    if fmt is not None and fmt.type == "grammar":
        grammar = {"definition": fmt.definition or "", "syntax": fmt.syntax or "lark"}
        custom["format"] = {"type": "grammar", "grammar": grammar}
    elif fmt is not None:
        custom["format"] = {"type": "text"}
    return {"type": "custom", "custom": custom}


def _refused_tool(kind: str) -> InvalidRequest:
    if kind in HOSTED_TOOLS:
        return InvalidRequest(
            f"The hosted tool '{kind}' runs at OpenAI and sends the content to a third "
            "party (a search engine, a file store, a sandbox, an MCP server) that no ZDR "
            "record covers; zdrgate refuses it. Declare a function tool instead.",
            param="tools",
            code="hosted_tool_refused",
        )
    named = f"'{kind}'" if kind in KNOWN_TOOLS else "this"
    return InvalidRequest(
        f"Tools of {named} type are not supported: zdrgate serves function and custom "
        "tools.",
        param="tools",
        code="unsupported_tool_type",
    )


def _tool_choice(choice: ToolChoice) -> str | JSON:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, FunctionChoice):
        return {"type": "function", "function": {"name": choice.name}}
    if isinstance(choice, CustomChoice):
        return {"type": "custom", "custom": {"name": choice.name}}
    raise _refused_tool(getattr(choice, "type", ""))
