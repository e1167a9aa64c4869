"""OpenAI Responses API request (``POST /v1/responses``), validated.

As for chat, unknown top-level fields are refused with a 400 naming them, so a field
nobody reviewed never reaches a provider. Stateless only: ``store`` is accepted and
answered as ``false`` (nothing is kept, by zdrgate or a provider); the fields that
point at state kept at OpenAI (``previous_response_id``, ``conversation``,
``background``, ``prompt``, item references, file ids) are refused with
``storage_feature_refused`` by the translation (:mod:`.request`), which also refuses
hosted tools (a third party would receive the content).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from zdrgate.wire.chat import ProviderPreferences

Effort = Literal["minimal", "low", "medium", "high", "xhigh", "none"]


class _Open(BaseModel):
    """Nested objects: unknown keys (``status``, ``id``, ``annotations``) are dropped."""

    model_config = ConfigDict(extra="ignore")


class InputText(_Open):
    type: Literal["input_text", "output_text", "text"]
    text: str


class InputImage(_Open):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high", "original"] | None = None


class InputFile(_Open):
    type: Literal["input_file"]
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class Refusal(_Open):
    type: Literal["refusal"]
    refusal: str


Part = Annotated[InputText | InputImage | InputFile | Refusal, Field(discriminator="type")]


class MessageItem(_Open):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Part]


class FunctionCallItem(_Open):
    type: Literal["function_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: str = ""


OutputPart = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]


class FunctionCallOutputItem(_Open):
    type: Literal["function_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[OutputPart]


class CustomCallItem(_Open):
    """An earlier turn's call of a custom (free-form input) tool."""

    type: Literal["custom_tool_call"]
    call_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    input: str = ""


class CustomCallOutputItem(_Open):
    type: Literal["custom_tool_call_output"]
    call_id: str = Field(min_length=1)
    output: str | list[OutputPart]


class ReasoningItem(_Open):
    """An earlier turn's reasoning, sent back by a stateless client: not forwarded
    (its encrypted form is only readable by OpenAI, its summary is not the prompt)."""

    type: Literal["reasoning"]


class OtherItem(_Open):
    """Any other item type (item references, hosted tool calls): refused, with why."""

    type: str


def _item_tag(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "")
    known = (
        "message", "function_call", "function_call_output", "custom_tool_call",
        "custom_tool_call_output", "reasoning",
    )  # fmt: skip
    return kind if kind in known else "other"


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[CustomCallItem, Tag("custom_tool_call")]
    | Annotated[CustomCallOutputItem, Tag("custom_tool_call_output")]
    | Annotated[ReasoningItem, Tag("reasoning")]
    | Annotated[OtherItem, Tag("other")],
    Discriminator(_item_tag),
]


class FunctionTool(_Open):
    type: Literal["function"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class CustomFormat(_Open):
    type: Literal["text", "grammar"]
    definition: str | None = None  # grammar
    syntax: Literal["lark", "regex"] | None = None  # grammar


class CustomTool(_Open):
    """A tool whose input is free-form text (optionally a grammar), not JSON."""

    type: Literal["custom"]
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    format: CustomFormat | None = None


class OtherTool(_Open):
    """Hosted tools (``web_search``, ``file_search``, ``code_interpreter``, ...):
    refused by the translation, each with its reason."""

    type: str


def _tool_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("function", "custom") else "other"


Tool = Annotated[
    Annotated[FunctionTool, Tag("function")]
    | Annotated[CustomTool, Tag("custom")]
    | Annotated[OtherTool, Tag("other")],
    Discriminator(_tool_tag),
]


class FunctionChoice(_Open):
    type: Literal["function"]
    name: str = Field(min_length=1)


class CustomChoice(_Open):
    type: Literal["custom"]
    name: str = Field(min_length=1)


class AllowedTools(_Open):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class OtherChoice(_Open):
    type: str


def _choice_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("function", "custom", "allowed_tools") else "other"


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        Annotated[FunctionChoice, Tag("function")]
        | Annotated[CustomChoice, Tag("custom")]
        | Annotated[AllowedTools, Tag("allowed_tools")]
        | Annotated[OtherChoice, Tag("other")],
        Discriminator(_choice_tag),
    ]
)


class TextFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(default=None, min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(_Open):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class Reasoning(_Open):
    effort: Effort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(_Open):
    include_obfuscation: bool | None = None


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field(min_length=1, max_length=256)
    input: str | list[InputItem]
    instructions: str | None = None
    models: list[str] | None = Field(default=None, max_length=8)  # zdrgate: fallbacks
    provider: ProviderPreferences | None = None  # zdrgate: OpenRouter-style preferences
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: Reasoning | None = None
    service_tier: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    # Accepted, never forwarded (they identify people or make providers store data):
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    store: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    # Provider-side state: accepted only as null/false, refused otherwise.
    background: bool | None = None
    previous_response_id: str | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None  # a prompt template stored at OpenAI
