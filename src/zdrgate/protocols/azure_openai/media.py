"""Image generation and embeddings over Azure OpenAI: OpenAI's bodies and answers,
at the deployment's address (``/deployments/{name}/images/generations`` and
``/embeddings`` on the deployment-path API), the deployment as ``model``."""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.azure_openai.address import deployment, target
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.canonical import encode
from zdrgate.protocols.openai.media import (
    JSON_HEADERS,
    OpenAIEmbeddings,
    OpenAIImages,
    embedding_payload,
    image_payload,
)
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest


class AzureImages(OpenAIImages):
    def build_images(self, endpoint: Endpoint, request: ImageRequest) -> UpstreamCall:
        payload = image_payload(endpoint, request, deployment(endpoint))
        path = target(endpoint, "/images/generations")
        return UpstreamCall(path, encode(payload), False, JSON_HEADERS)


class AzureEmbeddings(OpenAIEmbeddings):
    def build_embeddings(self, endpoint: Endpoint, request: EmbeddingRequest) -> UpstreamCall:
        payload = embedding_payload(request, deployment(endpoint), base64=True)
        path = target(endpoint, "/embeddings")
        return UpstreamCall(path, encode(payload), False, JSON_HEADERS)
