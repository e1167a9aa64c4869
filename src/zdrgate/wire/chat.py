"""OpenAI chat completion request, validated.

Unknown top-level fields are refused with a 400 naming them (as OpenAI does), so a
field nobody reviewed can never reach a provider. ``user``, ``metadata``, ``store``,
``safety_identifier`` and ``prompt_cache_key`` are accepted and not forwarded
(``store`` is always sent as false where the protocol has it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


ContentPart = Annotated[TextPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")]


class FunctionCall(_Open):
    name: str
    arguments: str = ""


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning: str | None = None  # an earlier assistant turn's reasoning, if echoed back


class FunctionDef(_Open):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Open):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


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
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

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
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high", "xhigh", "none"] | None = None
    reasoning: Reasoning | None = None
    include_reasoning: bool | None = None
    modalities: list[Literal["text", "image"]] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    service_tier: str | None = None
    # Accepted, never forwarded (they identify people or make providers store data):
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    # OpenRouter fields with no effect here:
    route: str | None = None
    transforms: list[str] | None = None
    usage: dict[str, Any] | None = None

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
        "reasoning",
        "include_reasoning",
        "stream_options",
    }
)
