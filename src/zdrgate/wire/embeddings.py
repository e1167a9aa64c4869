"""OpenAI embeddings request (``POST /v1/embeddings``), validated.

``input`` is a string, a list of strings, a token array or a list of token arrays,
as in OpenAI's API. Unknown top-level fields are refused with a 400.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zdrgate.wire.chat import ProviderPreferences

TokenArray = list[int]
EmbeddingInput = str | list[str] | TokenArray | list[TokenArray]

MAX_INPUTS = 2048


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65_536)
    models: list[str] | None = Field(default=None, max_length=8)
    provider: ProviderPreferences | None = None
    user: str | None = None  # accepted, never forwarded

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: EmbeddingInput) -> EmbeddingInput:
        items = [value] if isinstance(value, str) else value
        if not items or any(isinstance(i, (str, list)) and not i for i in items):
            raise ValueError("inputs must not be empty")
        if len(items) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} inputs per request")
        return value

    def texts(self) -> list[str] | None:
        """The inputs as strings, or None when they are token arrays."""
        if isinstance(self.input, str):
            return [self.input]
        if all(isinstance(item, str) for item in self.input):
            return [str(item) for item in self.input]
        return None

    def size(self) -> int:
        """How many embeddings the request asks for."""
        value = self.input
        if isinstance(value, str):
            return 1
        if value and all(isinstance(item, int) for item in value):
            return 1
        return len(value)


EMBEDDING_GATEWAY_FIELDS = frozenset({"model", "models", "provider", "user", "encoding_format"})
