"""Image generation and embeddings over the OpenAI protocol.

Images: ``POST /images/generations``. gpt-image models always answer in base64 and
refuse ``response_format``; other OpenAI-compatible image APIs are asked for
``b64_json`` (or ``url`` when the operator lets provider URLs through and the client
asked for one). Embeddings: ``POST /embeddings``; base64 is asked for only where the
vendor is known to support it, and either answer shape is accepted.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON, int_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError, identifier
from zdrgate.protocols.media import EmbeddingBatch, GeneratedImage, ImageBatch
from zdrgate.wire.embeddings import EMBEDDING_GATEWAY_FIELDS, EmbeddingRequest
from zdrgate.wire.images import IMAGE_GATEWAY_FIELDS, ImageRequest

JSON_HEADERS = (("content-type", "application/json"), ("accept", "application/json"))
_BASE64_AWARE = frozenset({"openai", "azure", "azure-openai"})
_DETAILS = ("size", "quality", "background", "output_format")


def image_payload(endpoint: Endpoint, request: ImageRequest, model: str) -> JSON:
    """The body of an image generation call naming ``model`` upstream."""
    payload = request.model_dump(
        exclude_none=True, exclude_unset=True, exclude=set(IMAGE_GATEWAY_FIELDS)
    )
    payload["model"] = model
    if not endpoint.upstream_id.startswith("gpt-image"):
        payload["response_format"] = request.response_format or "b64_json"
    return payload


def embedding_payload(request: EmbeddingRequest, model: str, *, base64: bool) -> JSON:
    """The body of an embeddings call; base64 asked for only where ``base64`` says the
    vendor takes it."""
    payload = request.model_dump(
        exclude_none=True, exclude_unset=True, exclude=set(EMBEDDING_GATEWAY_FIELDS)
    )
    payload["model"] = model
    if request.encoding_format == "base64" and base64:
        payload["encoding_format"] = "base64"
    return payload


class OpenAIImages:
    def build_images(self, endpoint: Endpoint, request: ImageRequest) -> UpstreamCall:
        payload = image_payload(endpoint, request, endpoint.upstream_id)
        return UpstreamCall("/images/generations", encode(payload), False, JSON_HEADERS)

    def parse_images(self, endpoint: Endpoint, body: bytes) -> ImageBatch:
        parsed = load_object(body, "image response")
        data = parsed.get("data")
        if not isinstance(data, list) or not data:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "image response has no data")
        usage = parsed.get("usage")
        return ImageBatch(
            images=tuple(_image(item) for item in data),
            input_tokens=int_field(usage, "input_tokens"),
            output_tokens=int_field(usage, "output_tokens"),
            details={k: parsed[k] for k in _DETAILS if isinstance(parsed.get(k), str)},
            usage_details=usage_details(usage),
        )


def usage_details(usage: object) -> JSON:
    """``input_tokens_details`` and ``output_tokens_details`` of an images usage, each
    cut to its integer counts under identifier-like names (nothing else is relayed)."""
    out: JSON = {}
    for key in ("input_tokens_details", "output_tokens_details"):
        given = usage.get(key) if isinstance(usage, dict) else None
        if isinstance(given, dict):
            out[key] = {
                k: v
                for k, v in given.items()
                if identifier(k) and isinstance(v, int) and not isinstance(v, bool)
            }
    return out


def _image(item: object) -> GeneratedImage:
    if not isinstance(item, dict):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "image item is not an object")
    b64, url = item.get("b64_json"), item.get("url")
    revised = item.get("revised_prompt")
    if isinstance(b64, str) and b64:
        return GeneratedImage(b64_json=b64, revised_prompt=_str(revised))
    if isinstance(url, str) and url:
        return GeneratedImage(url=url, revised_prompt=_str(revised))
    raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "image item has neither b64_json nor url")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class OpenAIEmbeddings:
    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> UpstreamCall:
        base64 = endpoint.provider.id in _BASE64_AWARE
        payload = embedding_payload(request, endpoint.upstream_id, base64=base64)
        return UpstreamCall("/embeddings", encode(payload), False, JSON_HEADERS)

    def parse_embeddings(self, endpoint: Endpoint, body: bytes) -> EmbeddingBatch:
        parsed = load_object(body, "embedding response")
        data = parsed.get("data")
        if not isinstance(data, list) or not data:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "embedding response has no data")
        ordered = sorted(data, key=lambda d: int_field(d, "index"))
        return EmbeddingBatch(
            vectors=tuple(_vector(item) for item in ordered),
            prompt_tokens=int_field(parsed.get("usage"), "prompt_tokens"),
        )


def _vector(item: object) -> list[float] | str:
    vector = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(vector, str) or (
        isinstance(vector, list) and all(isinstance(x, (int, float)) for x in vector)
    ):
        return vector
    raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "embedding item has no vector")
