"""Where an Azure OpenAI call goes, relative to the provider's base URL.

The base URL says which API: one whose path ends in ``/v1`` is the v1 API (the
deployment travels as ``model``; ``api-version`` only when the operator set one);
any other (``https://{resource}.openai.azure.com/openai``) is the deployment-path API,
``/deployments/{deployment}/{operation}?api-version=...``.

Usage::

    target(endpoint, "/chat/completions")
    # v1:          "/chat/completions"
    # deployments: "/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from zdrgate.catalog.model import Endpoint

DEFAULT_API_VERSION = "2024-10-21"  # the latest GA dated version of the inference API


def is_v1(endpoint: Endpoint) -> bool:
    return urlsplit(endpoint.base_url).path.rstrip("/").endswith("/v1")


def deployment(endpoint: Endpoint) -> str:
    """The deployment serving the endpoint's model: the one the config maps it to, else
    (an operator-declared model) its ``upstream_id``."""
    return endpoint.deployment or endpoint.upstream_id


def target(endpoint: Endpoint, operation: str) -> str:
    version = endpoint.provider.api_version
    if is_v1(endpoint):
        return operation + (f"?api-version={version}" if version else "")
    name = quote(deployment(endpoint), safe="")
    return f"/deployments/{name}{operation}?api-version={version or DEFAULT_API_VERSION}"
