"""Image generation through the one pipeline (``POST /v1/images/generations``).

Usage::

    body, served = await generate_images(gateway, request, principal, pass_urls=False)

Images come back as base64 (``b64_json``). An upstream that answers with a URL has
it fetched from the provider's allowlisted origins and inlined, unless the operator
lets provider URLs through and the client asked for ``response_format: "url"``.
zdrgate never writes an image anywhere and never hosts an image URL.
"""

from __future__ import annotations

import time

from zdrgate.accounts.keys import Principal
from zdrgate.catalog.model import Endpoint, Provider
from zdrgate.errors import InvalidRequest, UpstreamUnavailable
from zdrgate.limits import NO_DEMAND, Demand
from zdrgate.protocols import spec_for
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.common import JSON
from zdrgate.protocols.media import GeneratedImage, ImageBatch
from zdrgate.service.gateway import Gateway, Metering, Served
from zdrgate.service.media import media_plan
from zdrgate.upstream.assets import AssetFetcher, AssetRefused
from zdrgate.wire.images import ImageRequest

ROUTE = "images.generations"


async def generate_images(
    gateway: Gateway,
    request: ImageRequest,
    principal: Principal,
    *,
    pass_urls: bool,
    demand: Demand = NO_DEMAND,
) -> tuple[JSON, Served]:
    keep_urls = request.response_format == "url"
    if keep_urls and not pass_urls:
        raise InvalidRequest(
            "zdrgate returns images as base64 and does not host image URLs; this gateway "
            "does not pass provider URLs through. Use response_format 'b64_json'.",
            param="response_format",
            code="unsupported_response_format",
        )
    plan = media_plan(gateway, request.model, request.models, request.provider, "image")
    meter = Metering(gateway, principal, ROUTE, request.model, stream=False)
    meter.demand = demand

    async def build(endpoint: Endpoint) -> UpstreamCall:
        return spec_for(endpoint.provider.protocol).require_images().build_images(endpoint, request)

    def parse(endpoint: Endpoint, body: bytes) -> ImageBatch:
        return spec_for(endpoint.provider.protocol).require_images().parse_images(endpoint, body)

    batch, approval = await gateway.first_success(plan, build, parse, meter)
    endpoint = approval.endpoint
    try:
        images = await inline_urls(gateway.assets, endpoint.provider, batch.images, keep_urls)
    except UpstreamUnavailable as error:
        meter.failed(error, endpoint)
        raise
    meter.succeeded(endpoint, batch.input_tokens, batch.output_tokens, images=len(images))
    return render(batch, images), meter.served(approval)


async def inline_urls(
    assets: AssetFetcher, provider: Provider, images: tuple[GeneratedImage, ...], keep: bool
) -> list[GeneratedImage]:
    """Images with every provider URL replaced by its bytes, unless ``keep``."""
    out = []
    budget = assets.budget()  # shared by every image of this response
    for image in images:
        if image.url is None or keep:
            out.append(image)
            continue
        try:
            asset = await assets.provider_asset(provider, image.url, budget)
        except AssetRefused as exc:
            raise UpstreamUnavailable(
                f"The endpoint answered with an image URL that zdrgate would not fetch "
                f"({exc.reason}); the provider's asset_origins must list its origin."
            ) from None
        out.append(GeneratedImage(b64_json=asset.b64(), revised_prompt=image.revised_prompt))
    return out


def render(batch: ImageBatch, images: list[GeneratedImage]) -> JSON:
    """OpenAI's images response."""
    body: JSON = {"created": int(time.time()), "data": [_item(i) for i in images]}
    body.update(batch.details)
    if batch.input_tokens or batch.output_tokens:
        body["usage"] = {
            "input_tokens": batch.input_tokens,
            "output_tokens": batch.output_tokens,
            "total_tokens": batch.input_tokens + batch.output_tokens,
        }
    return body


def _item(image: GeneratedImage) -> JSON:
    item: JSON = {"b64_json": image.b64_json} if image.b64_json else {"url": image.url}
    if image.revised_prompt:
        item["revised_prompt"] = image.revised_prompt
    return item
