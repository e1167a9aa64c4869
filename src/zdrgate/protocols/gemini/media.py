"""Image generation and embeddings over the Gemini protocol (AI Studio and Vertex).

Images: ``POST /models/{id}:generateContent`` with
``generationConfig.responseModalities = ["TEXT", "IMAGE"]``; the images come back as
``inlineData`` parts (base64) and are passed on as they are. OpenAI's ``size``
becomes the nearest Gemini aspect ratio (and ``imageSize`` for 2K/4K); ``quality``,
``background``, ``output_format``, ``style`` and ``moderation`` have no Gemini
equivalent and are not sent. Embeddings: ``POST /models/{id}:batchEmbedContents``,
text inputs only (Gemini has no token-array input).

:func:`inline_images` turns the ``inlineData`` parts of a chat answer into
OpenRouter-style ``message.images`` entries, for the Gemini chat codec to use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from zdrgate.catalog.model import Endpoint
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.common import JSON, int_field, load_object
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.protocols.gemini.request import model_target
from zdrgate.protocols.media import EmbeddingBatch, GeneratedImage, ImageBatch
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest

_JSON_HEADERS = (("content-type", "application/json"), ("accept", "application/json"))
_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def aspect_ratio(size: str | None) -> str | None:
    """The Gemini aspect ratio nearest to an OpenAI ``WxH`` size (None for auto)."""
    if not size or size == "auto":
        return None
    width, height = (int(x) for x in size.split("x"))
    if not width or not height:
        return None
    wanted = width / height
    return min(_RATIOS, key=lambda r: abs(_ratio(r) - wanted))


def _ratio(text: str) -> float:
    w, h = text.split(":")
    return int(w) / int(h)


def image_size(size: str | None) -> str | None:
    """Gemini ``imageSize`` for large OpenAI sizes; None keeps the default (1K)."""
    if not size or size == "auto":
        return None
    longest = max(int(x) for x in size.split("x"))
    return "4K" if longest >= 3840 else "2K" if longest >= 2048 else None


def generation_config(request: ImageRequest) -> JSON:
    config: JSON = {"responseModalities": ["TEXT", "IMAGE"]}
    if request.count > 1:
        config["candidateCount"] = request.count
    image: JSON = {}
    if ratio := aspect_ratio(request.size):
        image["aspectRatio"] = ratio
    if big := image_size(request.size):
        image["imageSize"] = big
    if image:
        config["imageConfig"] = image
    return config


class GeminiImages:
    def build_images(self, endpoint: Endpoint, request: ImageRequest) -> UpstreamCall:
        payload = {
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "generationConfig": generation_config(request),
        }
        path = model_target(endpoint.upstream_id, "generateContent")
        return UpstreamCall(path, encode(payload), False, _JSON_HEADERS)

    def parse_images(self, endpoint: Endpoint, body: bytes) -> ImageBatch:
        parsed = load_object(body, "generateContent response")
        images = tuple(
            GeneratedImage(b64_json=data, mime_type=mime)
            for mime, data in inline_data(candidate_parts(parsed))
        )
        if not images:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no image")
        usage = parsed.get("usageMetadata")
        return ImageBatch(
            images=images,
            input_tokens=int_field(usage, "promptTokenCount"),
            output_tokens=int_field(usage, "candidatesTokenCount"),
        )


def candidate_parts(response: JSON) -> list[JSON]:
    """Every part of every candidate, in order."""
    parts: list[JSON] = []
    candidates = response.get("candidates")
    for candidate in candidates if isinstance(candidates, list) else ():
        content = candidate.get("content") if isinstance(candidate, dict) else None
        found = content.get("parts") if isinstance(content, dict) else None
        if isinstance(found, list):
            parts.extend(p for p in found if isinstance(p, dict))
    return parts


def inline_data(parts: Iterable[JSON]) -> list[tuple[str, str]]:
    """(mime type, base64 data) of each image part; REST uses camelCase, accept both."""
    found = []
    for part in parts:
        blob = part.get("inlineData") or part.get("inline_data")
        if not isinstance(blob, dict):
            continue
        mime = blob.get("mimeType") or blob.get("mime_type") or "image/png"
        data = blob.get("data")
        if isinstance(mime, str) and mime.startswith("image/") and isinstance(data, str) and data:
            found.append((mime, data))
    return found


def inline_images(parts: Iterable[JSON]) -> list[JSON]:
    """Image parts as OpenRouter ``message.images`` entries (base64 data URLs)."""
    return [
        {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
        for mime, data in inline_data(parts)
    ]


class GeminiEmbeddings:
    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> UpstreamCall:
        texts = request.texts()
        if texts is None:
            raise InvalidRequest(
                "Gemini embedding endpoints take text, not token arrays; send strings.",
                param="input",
                code="unsupported_input",
            )
        path = model_target(endpoint.upstream_id, "batchEmbedContents")
        model = path.removeprefix("/").removesuffix(":batchEmbedContents")  # models/{id}
        requests = [_embed_request(model, text, request.dimensions) for text in texts]
        return UpstreamCall(path, encode({"requests": requests}), False, _JSON_HEADERS)

    def parse_embeddings(self, endpoint: Endpoint, body: bytes) -> EmbeddingBatch:
        parsed = load_object(body, "batchEmbedContents response")
        embeddings = parsed.get("embeddings")
        if not isinstance(embeddings, list) or not embeddings:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "response has no embeddings")
        return EmbeddingBatch(vectors=tuple(_values(e) for e in embeddings))


def _embed_request(model: str, text: str, dimensions: int | None) -> JSON:
    item: JSON = {"model": model, "content": {"parts": [{"text": text}]}}
    if dimensions is not None:
        item["outputDimensionality"] = dimensions
    return item


def _values(item: Any) -> list[float]:
    values = item.get("values") if isinstance(item, dict) else None
    if isinstance(values, list) and all(isinstance(x, (int, float)) for x in values):
        return values
    raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "embedding has no values")
