"""The seam between the pipeline and a wire protocol."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.media import EmbeddingBatch, ImageBatch
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest

JSON = dict[str, Any]


class ErrorKind(StrEnum):
    """What went wrong upstream, as a kind: the body that said so is dropped."""

    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    AUTH_FAILED = "upstream_auth_failed"
    NOT_FOUND = "upstream_model_not_found"
    BAD_REQUEST = "bad_request"
    PROTOCOL_ERROR = "protocol_error"

    @property
    def retryable(self) -> bool:
        """Whether the next endpoint may be tried. A request the upstream found
        invalid would be invalid elsewhere too."""
        return self is not ErrorKind.BAD_REQUEST


@dataclass(frozen=True, slots=True)
class UpstreamErrorInfo:
    kind: ErrorKind
    status: int | None = None
    code: str | None = None  # an allowlisted machine code, e.g. context_length_exceeded
    param: str | None = None
    retry_after: float | None = None


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


class ChatAdapter(Protocol):
    def build_chat(self, endpoint: Endpoint, request: ChatRequest) -> UpstreamCall: ...

    def parse_chat(self, endpoint: Endpoint, body: bytes) -> JSON: ...

    def stream_decoder(self, endpoint: Endpoint, request: ChatRequest) -> StreamDecoder: ...

    def classify_error(
        self, status: int, headers: dict[str, str], body: bytes
    ) -> UpstreamErrorInfo: ...


class ImageAdapter(Protocol):
    """Image generation over one protocol (``/v1/images/generations``)."""

    def build_images(self, endpoint: Endpoint, request: ImageRequest) -> UpstreamCall: ...

    def parse_images(self, endpoint: Endpoint, body: bytes) -> ImageBatch: ...

    def classify_error(
        self, status: int, headers: dict[str, str], body: bytes
    ) -> UpstreamErrorInfo: ...


class EmbeddingAdapter(Protocol):
    """Embeddings over one protocol (``/v1/embeddings``)."""

    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> UpstreamCall: ...

    def parse_embeddings(self, endpoint: Endpoint, body: bytes) -> EmbeddingBatch: ...

    def classify_error(
        self, status: int, headers: dict[str, str], body: bytes
    ) -> UpstreamErrorInfo: ...


class StreamProtocolError(Exception):
    """The upstream stream was malformed or ended early (carries no content)."""

    def __init__(self, kind: ErrorKind, what: str) -> None:
        super().__init__(what)
        self.kind = kind
