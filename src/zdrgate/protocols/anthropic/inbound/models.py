"""Anthropic Messages API request (``POST /v1/messages``), validated.

Like :class:`~zdrgate.wire.chat.ChatRequest`, unknown top-level fields are refused
with a 400, so a field nobody reviewed (``container``, ``mcp_servers``, ...) never
reaches a provider. ``metadata`` is accepted and never forwarded. Server tools
(web search, code execution, ...) run and keep state at the provider: refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """Nested objects: unknown keys (``cache_control``, ``citations``) are dropped."""

    model_config = ConfigDict(extra="ignore")


class Base64Source(_Open):
    type: Literal["base64"]
    media_type: str
    data: str


class UrlSource(_Open):
    type: Literal["url"]
    url: str = Field(min_length=1)


class TextSource(_Open):
    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


Source = Annotated[Base64Source | UrlSource, Field(discriminator="type")]
DocumentSource = Annotated[Base64Source | UrlSource | TextSource, Field(discriminator="type")]


class TextBlock(_Open):
    type: Literal["text"]
    text: str


class ImageBlock(_Open):
    type: Literal["image"]
    source: Source


class DocumentBlock(_Open):
    type: Literal["document"]
    source: DocumentSource
    title: str | None = None


class ToolUseBlock(_Open):
    type: Literal["tool_use"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=dict)


ResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Open):
    type: Literal["tool_result"]
    tool_use_id: str = Field(min_length=1)
    content: str | list[ResultPart] | None = None
    is_error: bool | None = None


class ThinkingBlock(_Open):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Open):
    type: Literal["redacted_thinking"]
    data: str


Block = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class InputMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[Block]


class CustomTool(_Open):
    type: Literal["custom"] | None = None  # server tools have other types: refused
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    input_schema: dict[str, Any]


class ToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Thinking(_Open):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=0)


class MessagesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    max_tokens: int = Field(ge=1)
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    tools: list[CustomTool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    # Accepted, never forwarded (it identifies people):
    metadata: dict[str, Any] | None = None
    service_tier: str | None = None
