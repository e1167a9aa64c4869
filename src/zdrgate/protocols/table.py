"""Which adapter speaks which protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from zdrgate.catalog.model import Protocol
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.anthropic.chat import AnthropicAdapter, AnthropicVertexAdapter
from zdrgate.protocols.base import ChatAdapter, EmbeddingAdapter, ImageAdapter, UpstreamErrorInfo
from zdrgate.protocols.gemini.chat import GeminiAdapter
from zdrgate.protocols.gemini.media import GeminiEmbeddingAdapter, GeminiImageAdapter
from zdrgate.protocols.openai.chat import OpenAIAdapter
from zdrgate.protocols.openai.media import OpenAIEmbeddingAdapter, OpenAIImageAdapter

A = TypeVar("A")

_ADAPTERS: dict[Protocol, ChatAdapter] = {
    Protocol.OPENAI: OpenAIAdapter(),
    Protocol.ANTHROPIC: AnthropicAdapter(),
    Protocol.ANTHROPIC_VERTEX: AnthropicVertexAdapter(),
    Protocol.GEMINI: GeminiAdapter(),
}


def _lookup(table: Mapping[Protocol, A], protocol: Protocol, what: str) -> A:
    adapter = table.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"{what} over the {protocol.value!r} protocol is not supported")
    return adapter


def adapter_for(protocol: Protocol) -> ChatAdapter:
    return _lookup(_ADAPTERS, protocol, "chat")


_IMAGE_ADAPTERS: dict[Protocol, ImageAdapter] = {
    Protocol.OPENAI: OpenAIImageAdapter(),
    Protocol.GEMINI: GeminiImageAdapter(),
}
_EMBEDDING_ADAPTERS: dict[Protocol, EmbeddingAdapter] = {
    Protocol.OPENAI: OpenAIEmbeddingAdapter(),
    Protocol.GEMINI: GeminiEmbeddingAdapter(),
}


def image_adapter_for(protocol: Protocol) -> ImageAdapter:
    return _lookup(_IMAGE_ADAPTERS, protocol, "image generation")


def embedding_adapter_for(protocol: Protocol) -> EmbeddingAdapter:
    return _lookup(_EMBEDDING_ADAPTERS, protocol, "embeddings")


def classify_error(
    protocol: Protocol, status: int, headers: dict[str, str], body: bytes
) -> UpstreamErrorInfo:
    """An error status of any route, read by the protocol's adapter (chat first)."""
    adapter: ChatAdapter | ImageAdapter | None = _ADAPTERS.get(protocol)
    if adapter is None:
        adapter = _lookup(_IMAGE_ADAPTERS, protocol, "requests")
    return adapter.classify_error(status, headers, body)
