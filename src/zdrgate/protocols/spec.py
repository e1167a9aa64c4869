"""What a wire protocol is, to the rest of the gateway: one :class:`ProtocolSpec`.

Each protocol package (``protocols/openai``, ``protocols/anthropic``, ...) exports
one ``SPEC``; :mod:`zdrgate.protocols.table` maps protocol names to them. Everything
the service, the dispatcher and the config need to know about a protocol is here, so
adding one is a folder and a table line (docs/architecture.md, "Adding a protocol").

Usage::

    spec = endpoint_spec(endpoint)  # or spec_for(protocol)
    call = spec.require_chat().build_chat(endpoint, request)
    info = spec.classify(status, headers, body)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.errors import GatewayError, InvalidRequest
from zdrgate.protocols.base import ChatCodec, EmbeddingCodec, EventWriter, ImageCodec, StreamCodec
from zdrgate.protocols.common import JSON
from zdrgate.protocols.errors import UpstreamErrorInfo
from zdrgate.wire.chat import ChatRequest

Classifier = Callable[[int, Mapping[str, str], bytes], UpstreamErrorInfo]
C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class InboundCodec:
    """An API zdrgate also serves in this protocol's shape (``/v1/messages`` for
    Anthropic, ``/v1/responses`` for OpenAI's Responses API): the request model to
    validate, its translation to the canonical chat request, and the answer, stream
    events and error envelope spelled back (``render`` and ``events`` are given the
    validated request, for what the answer echoes of it)."""

    path: str
    request_model: type[BaseModel]
    to_chat: Callable[[Any], ChatRequest]
    render: Callable[[JSON, Any], JSON]  # (canonical completion, validated request)
    events: Callable[[Any], EventWriter]  # (validated request)
    error_body: Callable[[GatewayError], JSON]
    keepalive: bytes
    # The stream's last event (or each way it can end): the receipt line goes just before it.
    terminator: bytes | tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """One wire protocol: its codecs (None where it has no such API), its one error
    classifier, how calls are authenticated, and what it can take."""

    name: Protocol
    classify: Classifier
    """Error status, kept headers and (bounded) body -> a kind; the body is dropped."""
    auth: Auth
    """How credentials travel by default (a provider may override it in config)."""
    chat: ChatCodec | None = None
    stream: StreamCodec | None = None
    images: ImageCodec | None = None
    embeddings: EmbeddingCodec | None = None
    inline_images_only: bool = False
    """The upstream cannot fetch an image URL: the gateway fetches (guarded) and inlines."""
    one_choice_per_call: bool = False
    """The upstream answers one choice per call: ``n > 1`` is fanned out into n calls
    (streams: n streams merged into one; ``service.fanout``); the codec itself refuses
    ``n > 1`` with ``n_unsupported``."""
    signing_name: str = ""
    """The AWS service name SigV4 signs for (``Auth.AWS_SIGV4``), e.g. ``bedrock``."""
    inbound: InboundCodec | None = None
    """Set for the protocols zdrgate also serves to clients."""
    deployments: bool = False
    """Models are reached by deployments the operator names (Azure OpenAI): the config's
    ``deployments`` and ``api_version`` apply to its providers."""

    def require_chat(self) -> ChatCodec:
        return _required(self.chat, self.name, "chat")

    def require_stream(self) -> StreamCodec:
        return _required(self.stream, self.name, "streamed chat")

    def require_images(self) -> ImageCodec:
        return _required(self.images, self.name, "image generation")

    def require_embeddings(self) -> EmbeddingCodec:
        return _required(self.embeddings, self.name, "embeddings")


def _required(codec: C | None, protocol: Protocol, what: str) -> C:
    if codec is None:
        raise InvalidRequest(f"{what} over the {protocol.value!r} protocol is not supported")
    return codec
