"""Canonical chat request -> Bedrock Converse request body.

- system and developer messages become ``system`` text blocks; consecutive turns of
  one role merge (tool results become ``toolResult`` blocks of a user turn);
- images travel as ``image`` blocks with their bytes (png, jpeg, gif, webp): the spec
  says ``inline_images_only``, so the service has already fetched an https image URL
  (SSRF-guarded) into a data URL; an inline PDF becomes a ``document`` block;
- tools become ``toolConfig`` (``toolSpec.inputSchema.json``); ``tool_choice``
  ``required`` is ``any``, a named function is ``tool``. Converse has no "none": the
  tools are then left out, unless the history holds tool blocks (Converse needs the
  tool list to read them), when they are sent with the model left to choose;
- ``max_tokens``, ``temperature``, ``top_p`` and ``stop`` become ``inferenceConfig``;
- reasoning becomes Claude's ``thinking`` in ``additionalModelRequestFields`` (Claude
  models only: other models refuse fields they do not know);
- a JSON-schema ``response_format`` is refused: Converse's structured output
  (``outputConfig.textFormat``) compiles the schema and caches it for 24 hours, which no
  ZDR record covers (nor is a tool's ``strict`` sent, which does the same);
  ``json_object`` is not sent (as over the Anthropic protocol: the prompt asks for
  JSON); a streamed ``n > 1`` is refused (the spec says ``one_choice_per_call``: the
  service fans a plain one out into n calls); seed, penalties, logit_bias and logprobs
  are not sent.
  ``user`` and ``metadata`` never leave (no ``requestMetadata``).
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
from zdrgate.protocols.common import JSON, append_turn
from zdrgate.wire.chat import ChatRequest, Message, NamedToolChoice

IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_MIN_THINKING = 1024


def request_body(endpoint: Endpoint, request: ChatRequest) -> JSON:
    refuse_n(request, "bedrock")
    refuse_custom_tools(request, "bedrock")
    _refuse_response_format(request)
    body: JSON = {"messages": messages(request.messages)}
    if system := system_text(request.messages):
        body["system"] = [{"text": system}]
    if config := _inference(request):
        body["inferenceConfig"] = config
    if tools := _tool_config(request, body["messages"]):
        body["toolConfig"] = tools
    if extra := _thinking(endpoint, request, body):
        body["additionalModelRequestFields"] = extra
    return body


def _refuse_response_format(request: ChatRequest) -> None:
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        raise InvalidRequest(
            "response_format 'json_schema' is not sent to Bedrock: it caches the compiled "
            "schema for 24 hours, which no zero-retention record covers.",
            param="response_format",
        )


def messages(source: list[Message]) -> list[JSON]:
    turns: list[JSON] = []
    for message in source:
        if message.role in ("system", "developer"):
            continue
        if message.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(message)
        elif message.role == "tool":
            role, blocks = "user", [_tool_result(message)]
        else:
            role, blocks = "user", _content_blocks(message.content)
        if blocks:
            append_turn(turns, role, "content", blocks)
    if not turns:
        raise InvalidRequest(
            "The request needs at least one user or assistant message with content.",
            param="messages",
        )
    return turns


def _content_blocks(content: str | list[Any] | None) -> list[JSON]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [block for part in content or () if (block := _part(part)) is not None]


def _part(part: Any) -> JSON | None:
    if part.type in ("text", "refusal"):  # an earlier refusal is what the model said
        text = part.text if part.type == "text" else part.refusal
        return {"text": text} if text else None
    if part.type == "image_url":
        return _image(part.image_url.url)
    if part.type == "file" and part.file.file_data:
        inline = data_url(part.file.file_data)
        if inline and inline[0] == "application/pdf":
            source = {"bytes": inline[1]}
            return {"document": {"format": "pdf", "name": "document", "source": source}}
    raise InvalidRequest(
        f"Content parts of type {part.type!r} in this form are not supported by the "
        "bedrock protocol (images and inline PDFs are).",
        param="messages",
    )


def _image(url: str) -> JSON:
    inline = data_url(url)
    if inline is None:
        raise InvalidRequest(
            "An image sent to a Bedrock endpoint must be an https URL or a base64 data URL.",
            param="messages",
        )
    fmt = IMAGE_FORMATS.get(inline[0])
    if fmt is None:
        raise InvalidRequest("Bedrock takes png, jpeg, gif and webp images only.", param="messages")
    return {"image": {"format": fmt, "source": {"bytes": inline[1]}}}


def _assistant_blocks(message: Message) -> list[JSON]:
    blocks = _content_blocks(message.content)
    for call in message.function_calls():
        use = {
            "toolUseId": call.id,
            "name": call.function.name,
            "input": tool_arguments(call.function.arguments),
        }
        blocks.append({"toolUse": use})
    return blocks


def _tool_result(message: Message) -> JSON:
    if not message.tool_call_id:
        raise InvalidRequest("A tool message needs a tool_call_id.", param="messages")
    content = _content_blocks(message.content) or [{"text": ""}]
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content}}


def _inference(request: ChatRequest) -> JSON:
    config: JSON = {
        "maxTokens": request.max_completion_tokens or request.max_tokens,
        "temperature": request.temperature,
        "topP": request.top_p,
        "stopSequences": stop_list(request.stop) or None,
    }
    return {k: v for k, v in config.items() if v is not None}


def _tool_config(request: ChatRequest, turns: list[JSON]) -> JSON | None:
    declared = function_tools(request)
    if not declared:
        return None
    choice = request.tool_choice
    if choice == "none" and not _has_tool_blocks(turns):
        return None
    tools = [
        {
            "toolSpec": {
                "name": tool.function.name,
                **({"description": tool.function.description} if tool.function.description else {}),
                "inputSchema": {
                    "json": tool.function.parameters or {"type": "object", "properties": {}}
                },
            }
        }
        for tool in declared
    ]
    config: JSON = {"tools": tools}
    if isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.function.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    return config


def _has_tool_blocks(turns: list[JSON]) -> bool:
    return any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])


def _thinking(endpoint: Endpoint, request: ChatRequest, body: JSON) -> JSON | None:
    """Claude's extended thinking; a forced tool choice leaves it off (Claude refuses
    both together), and so does an output limit too small to hold a budget."""
    budget = thinking_budget(request)
    forced = "toolChoice" in body.get("toolConfig", {})
    if budget is None or forced or "anthropic." not in endpoint.upstream_id:
        return None
    budget = max(budget, _MIN_THINKING)
    limit = body.get("inferenceConfig", {}).get("maxTokens") or max_output(request, endpoint)
    budget = min(budget, limit - 1)
    if budget < _MIN_THINKING:
        return None
    config = body.setdefault("inferenceConfig", {})
    config["maxTokens"] = limit  # Claude needs room for the budget and the answer
    config.pop("temperature", None)  # Claude refuses sampling changes with thinking
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}
