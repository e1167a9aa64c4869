"""OpenAI chat completion request, validated.

Unknown top-level fields are refused with a 400 naming them (as OpenAI does), so a
field nobody reviewed can never reach a provider. ``user``, ``metadata``, ``store``,
``safety_identifier`` and ``prompt_cache_key`` are accepted and not forwarded
(``store`` is always sent as false where the protocol has it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from zdrgate.wire.refusals import openapi_refusals, refusal_of

Number = float


class _Open(BaseModel):
    """Nested objects: unknown keys are dropped, never forwarded."""

    model_config = ConfigDict(extra="ignore")


class ImageUrl(_Open):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(_Open):
    data: str
    format: str


class AudioPart(_Open):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileData(_Open):
    filename: str | None = None
    file_data: str | None = None
    file_id: str | None = None


class FilePart(_Open):
    type: Literal["file"]
    file: FileData


class RefusalPart(_Open):
    """An earlier assistant turn's refusal, as a content part."""

    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    TextPart | ImagePart | AudioPart | FilePart | RefusalPart, Field(discriminator="type")
]


class FunctionCall(_Open):
    name: str
    arguments: str = ""


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class CustomCall(_Open):
    name: str
    input: str = ""


class CustomToolCall(_Open):
    """An earlier assistant turn's call of a custom (free-form input) tool."""

    id: str
    type: Literal["custom"]
    custom: CustomCall


def _call_kind(value: Any) -> str:
    """A tool call without ``type`` is a function call, as OpenAI reads it."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "custom" if kind == "custom" else "function"


AnyToolCall = Annotated[
    Annotated[ToolCall, Tag("function")] | Annotated[CustomToolCall, Tag("custom")],
    Discriminator(_call_kind),
]


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[AnyToolCall] | None = None
    tool_call_id: str | None = None
    function_call: FunctionCall | None = None  # deprecated: an assistant's function call
    refusal: str | None = None
    reasoning: str | None = None  # an earlier assistant turn's reasoning, if echoed back

    def function_calls(self) -> list[ToolCall]:
        """The function tool calls (custom tool calls are not among them)."""
        return [c for c in self.tool_calls or () if isinstance(c, ToolCall)]


class FunctionDef(_Open):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Open):
    type: Literal["function"]
    function: FunctionDef


class CustomFormat(_Open):
    type: Literal["text", "grammar"]
    grammar: dict[str, Any] | None = None  # {"definition": ..., "syntax": "lark" | "regex"}


class CustomDef(_Open):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    format: CustomFormat | None = None


class CustomTool(_Open):
    """A tool whose input is free-form text (optionally a grammar), not JSON arguments."""

    type: Literal["custom"]
    custom: CustomDef


AnyTool = Annotated[Tool | CustomTool, Field(discriminator="type")]


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class NamedCustomChoice(_Open):
    type: Literal["custom"]
    custom: NamedFunction


class AllowedToolRef(_Open):
    type: Literal["function", "custom"]
    function: NamedFunction | None = None
    custom: NamedFunction | None = None

    @property
    def name(self) -> str | None:
        named = self.function if self.type == "function" else self.custom
        return named.name if named else None


class AllowedTools(_Open):
    mode: Literal["auto", "required"]
    tools: list[AllowedToolRef] = Field(max_length=128)


class AllowedToolsChoice(_Open):
    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


ToolChoice = Annotated[
    NamedToolChoice | NamedCustomChoice | AllowedToolsChoice, Field(discriminator="type")
]


class PredictionContent(_Open):
    """Predicted output (OpenAI's latency optimisation for mostly-known answers)."""

    type: Literal["content"]
    content: str | list[TextPart]


class JsonSchemaFormat(_Open):
    name: str
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Open):
    include_usage: bool | None = None


class MaxPrice(_Open):
    prompt: Number | None = Field(default=None, ge=0)
    completion: Number | None = Field(default=None, ge=0)
    image: Number | None = Field(default=None, ge=0)
    request: Number | None = Field(default=None, ge=0)


# Provider lists name providers, of which a catalog has a few dozen: the caps keep
# a request from making the policy cache or the router work on megabytes of names.
MAX_PROVIDER_NAMES = 64
ProviderName = Annotated[str, Field(min_length=1, max_length=128)]
ProviderNames = Annotated[list[ProviderName], Field(max_length=MAX_PROVIDER_NAMES)]


class ProviderPreferences(BaseModel):
    """OpenRouter-compatible ``provider`` object. It can only narrow the policy."""

    model_config = ConfigDict(extra="forbid")

    order: ProviderNames | None = None
    only: ProviderNames | None = None
    ignore: ProviderNames | None = None
    allow_fallbacks: bool = True
    sort: Literal["price", "latency", "throughput"] | None = None
    max_price: MaxPrice | None = None
    zdr: bool | None = None  # true is zdrgate's floor anyway; false cannot loosen it
    data_collection: Literal["allow", "deny"] | None = None  # "allow" cannot loosen it
    require_parameters: bool | None = None
    quantizations: ProviderNames | None = None


class Reasoning(_Open):
    effort: Literal["minimal", "low", "medium", "high", "xhigh", "none"] | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    exclude: bool | None = None
    enabled: bool | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"x-zdrgate-refused": openapi_refusals()},
    )

    model: str = Field(min_length=1, max_length=256)
    messages: list[Message] = Field(min_length=1)
    models: list[str] | None = Field(default=None, max_length=8)
    provider: ProviderPreferences | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    min_p: Number | None = Field(default=None, ge=0, le=1)
    repetition_penalty: Number | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=8)
    stop: str | list[str] | None = None
    presence_penalty: Number | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: Number | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, Number] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    tools: list[AnyTool] | None = Field(default=None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None
    functions: list[FunctionDef] | None = Field(default=None, min_length=1, max_length=128)
    function_call: Literal["none", "auto"] | NamedFunction | None = None  # deprecated
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh", "none"] | None = None
    reasoning: Reasoning | None = None
    include_reasoning: bool | None = None
    modalities: list[Literal["text", "image", "audio"]] | None = None  # audio: refused
    verbosity: Literal["low", "medium", "high"] | None = None
    service_tier: str | None = None
    prediction: PredictionContent | None = None
    # Accepted, never forwarded (they identify people or make providers store data):
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in-memory", "in_memory", "24h"] | None = None  # 24h: refused
    # Published by OpenAI, refused with their own codes (wire/refusals.py):
    web_search_options: SkipJsonSchema[dict[str, Any] | None] = None
    audio: SkipJsonSchema[dict[str, Any] | None] = None
    # OpenRouter fields with no effect here:
    route: str | None = None
    transforms: list[str] | None = None
    usage: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _refused(self) -> ChatRequest:
        if (  # the common case, checked inline: this runs on every request
            self.web_search_options is None
            and self.audio is None
            and self.prompt_cache_retention != "24h"
            and not (self.modalities and "audio" in self.modalities)
        ):
            return self
        refusal = refusal_of(
            {
                "web_search_options": self.web_search_options,
                "audio": self.audio,
                "modalities": self.modalities,
                "prompt_cache_retention": self.prompt_cache_retention,
            }
        )
        if refusal is not None:
            raise PydanticCustomError(
                refusal.code,
                "'{field}' is refused: {why}.",
                {"field": refusal.field, "why": refusal.why},
            )
        return self

    def wants_images(self) -> bool:
        return bool(self.modalities and "image" in self.modalities)

    def has_image_input(self) -> bool:
        return any(
            isinstance(m.content, list) and any(p.type == "image_url" for p in m.content)
            for m in self.messages
        )

    def text_chars(self) -> int:
        """Characters of the messages' text (for a token estimate; the text is not kept)."""
        total = 0
        for message in self.messages:
            content = message.content
            if isinstance(content, str):
                total += len(content)
            elif content:
                total += sum(len(p.text) for p in content if p.type == "text")
        return total


# Fields the gateway consumes itself or drops for privacy; never sent upstream as-is.
GATEWAY_FIELDS = frozenset(
    {
        "model",
        "models",
        "provider",
        "route",
        "transforms",
        "usage",
        "user",
        "metadata",
        "store",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prediction",
        "functions",
        "function_call",
        "reasoning",
        "include_reasoning",
        "stream_options",
    }
)
