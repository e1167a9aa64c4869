"""The seams between the pipeline and a wire protocol: what a codec builds and reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.common import JSON
from zdrgate.protocols.media import EmbeddingBatch, ImageBatch
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One HTTP request to send, relative to the endpoint's base URL. No credentials:
    the dispatcher adds them in the protocol's style."""

    path: str
    body: bytes
    stream: bool
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"


class StreamDecoder(Protocol):
    def feed(self, data: bytes) -> list[JSON]:
        """Bytes from upstream in, canonical chunks (OpenAI chunk dicts) out."""

    def finish(self) -> list[JSON]:
        """The upstream ended. Raise ``StreamProtocolError`` if it ended badly."""


class EventWriter(Protocol):
    """One stream's canonical chunks spelled in an inbound protocol's events."""

    ended: bool

    def chunk(self, chunk: JSON) -> list[bytes]: ...

    def done(self) -> list[bytes]: ...

    def error(self, status: int, message: str, code: str | None = None) -> list[bytes]: ...


class ChatCodec(Protocol):
    """Chat over one protocol: the call to send, and the answer read back."""

    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall: ...

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON: ...


class StreamCodec(Protocol):
    """Streamed chat: the call is ``ChatCodec.build_chat``'s; this decodes the events."""

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> StreamDecoder: ...


class ImageCodec(Protocol):
    """Image generation over one protocol (``/v1/images/generations``)."""

    def build_images(self, endpoint: Endpoint, request: ImageRequest) -> UpstreamCall: ...

    def parse_images(self, endpoint: Endpoint, body: bytes) -> ImageBatch: ...


class EmbeddingCodec(Protocol):
    """Embeddings over one protocol (``/v1/embeddings``)."""

    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> UpstreamCall: ...

    def parse_embeddings(self, endpoint: Endpoint, body: bytes) -> EmbeddingBatch: ...
