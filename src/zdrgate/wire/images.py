"""OpenAI image generation request (``POST /v1/images/generations``), validated.

Unknown top-level fields are refused with a 400 naming them, as for chat. ``user``
is accepted and never forwarded. ``provider`` and ``models`` are zdrgate's routing
fields (OpenRouter-compatible) and never sent upstream.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zdrgate.wire.chat import ProviderPreferences


class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    prompt: str = Field(min_length=1, max_length=32_000)
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = Field(default=None, pattern=r"^(auto|\d{2,5}x\d{2,5})$")
    quality: Literal["auto", "low", "medium", "high", "standard", "hd"] | None = None
    background: Literal["auto", "transparent", "opaque"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    moderation: Literal["auto", "low"] | None = None
    style: Literal["vivid", "natural"] | None = None
    response_format: Literal["b64_json", "url"] | None = None
    models: list[str] | None = Field(default=None, max_length=8)
    provider: ProviderPreferences | None = None
    user: str | None = None  # accepted, never forwarded

    @property
    def count(self) -> int:
        return self.n or 1


# Fields the gateway consumes itself or drops for privacy; never sent upstream as-is.
IMAGE_GATEWAY_FIELDS = frozenset({"model", "models", "provider", "user", "response_format"})
