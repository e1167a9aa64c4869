"""The chat request as each upstream protocol needs it.

Most protocols take an image input as a URL. Some take only inline bytes (Gemini AI
Studio: their spec says ``inline_images_only``), and a self-hosted server on the
operator's network must not be handed a client's URL (it would fetch internal
addresses for the client): for such endpoints the gateway fetches https image URLs
once per request (SSRF-guarded, see ``service.vision``) and reuses the result for
every such attempt. The fetch happens only when such an endpoint is actually tried.
"""

from __future__ import annotations

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols import endpoint_spec
from zdrgate.service.vision import inline_image_urls
from zdrgate.upstream.assets import AssetFetcher
from zdrgate.wire.chat import ChatRequest


class ProtocolRequests:
    def __init__(self, assets: AssetFetcher, request: ChatRequest) -> None:
        self._assets = assets
        self._request = request
        self._inlined: ChatRequest | None = None

    async def for_endpoint(self, endpoint: Endpoint) -> ChatRequest:
        provider = endpoint.provider
        inline = endpoint_spec(endpoint).inline_images_only or provider.inline_image_urls
        if not inline:
            return self._request
        if self._inlined is None:
            self._inlined = await inline_image_urls(self._assets, self._request)
        return self._inlined
