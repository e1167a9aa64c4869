"""Canonical results of image generation and embeddings, whatever the protocol.

Adapters parse upstream bodies into these; the service renders them in OpenAI's
shape. They live only as long as the request: nothing here is logged or stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zdrgate.protocols.common import JSON


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image: base64 bytes, or a provider URL the gateway still has to fetch."""

    b64_json: str | None = None
    url: str | None = None
    mime_type: str | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class ImageBatch:
    images: tuple[GeneratedImage, ...]
    input_tokens: int = 0
    output_tokens: int = 0
    details: JSON = field(default_factory=dict)  # size, quality, background, output_format
    # The upstream's usage.input_tokens_details / output_tokens_details (token counts
    # only), kept so OpenAI's SDK finds the objects its types promise.
    usage_details: JSON = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EmbeddingBatch:
    """Vectors in request order: a list of floats, or base64 of little-endian float32."""

    vectors: tuple[list[float] | str, ...]
    prompt_tokens: int = 0
