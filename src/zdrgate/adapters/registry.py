"""Which adapter speaks which protocol."""

from __future__ import annotations

from zdrgate.adapters.anthropic import AnthropicAdapter, AnthropicVertexAdapter
from zdrgate.adapters.base import ChatAdapter, EmbeddingAdapter, ImageAdapter, UpstreamErrorInfo
from zdrgate.adapters.gemini import GeminiAdapter
from zdrgate.adapters.gemini_media import GeminiEmbeddingAdapter, GeminiImageAdapter
from zdrgate.adapters.openai import OpenAIAdapter
from zdrgate.adapters.openai_media import OpenAIEmbeddingAdapter, OpenAIImageAdapter
from zdrgate.catalog.model import Protocol
from zdrgate.errors import InvalidRequest

_ADAPTERS: dict[Protocol, ChatAdapter] = {
    Protocol.OPENAI: OpenAIAdapter(),
    Protocol.ANTHROPIC: AnthropicAdapter(),
    Protocol.ANTHROPIC_VERTEX: AnthropicVertexAdapter(),
    Protocol.GEMINI: GeminiAdapter(),
}


def adapter_for(protocol: Protocol) -> ChatAdapter:
    adapter = _ADAPTERS.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"protocol {protocol.value!r} is not supported yet")
    return adapter


_IMAGE_ADAPTERS: dict[Protocol, ImageAdapter] = {
    Protocol.OPENAI: OpenAIImageAdapter(),
    Protocol.GEMINI: GeminiImageAdapter(),
}
_EMBEDDING_ADAPTERS: dict[Protocol, EmbeddingAdapter] = {
    Protocol.OPENAI: OpenAIEmbeddingAdapter(),
    Protocol.GEMINI: GeminiEmbeddingAdapter(),
}


def image_adapter_for(protocol: Protocol) -> ImageAdapter:
    adapter = _IMAGE_ADAPTERS.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"image generation over {protocol.value!r} is not supported")
    return adapter


def embedding_adapter_for(protocol: Protocol) -> EmbeddingAdapter:
    adapter = _EMBEDDING_ADAPTERS.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"embeddings over {protocol.value!r} are not supported")
    return adapter


def classify_error(
    protocol: Protocol, status: int, headers: dict[str, str], body: bytes
) -> UpstreamErrorInfo:
    """An error status of any route, read by the protocol's adapter (chat first)."""
    adapter = _ADAPTERS.get(protocol) or _IMAGE_ADAPTERS.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"protocol {protocol.value!r} is not supported yet")
    return adapter.classify_error(status, headers, body)
