"""The Responses API over Azure OpenAI, for the models Azure serves only there (the
``-codex`` and ``-pro`` deployments): OpenAI's Responses body with the deployment as
``model``, always ``store: false``. The v1 API takes it at ``{base}/responses``; the
older API at ``{resource}/openai/responses?api-version=`` (not under
``/deployments/``), from ``2025-03-01-preview`` on."""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.azure_openai.address import deployment, is_v1
from zdrgate.protocols.responses.chat import ResponsesChat

RESPONSES_API_VERSION = "2025-04-01-preview"
FIRST_RESPONSES_VERSION = "2025-03-01-preview"  # dated versions before it lack /responses


class AzureResponsesChat(ResponsesChat):
    def model(self, endpoint: Endpoint) -> str:
        return deployment(endpoint)

    def target(self, endpoint: Endpoint) -> str:
        version = endpoint.provider.api_version
        if is_v1(endpoint):
            return "/responses" + (f"?api-version={version}" if version else "")
        if version is None or version < FIRST_RESPONSES_VERSION:
            version = RESPONSES_API_VERSION
        return f"/responses?api-version={version}"
