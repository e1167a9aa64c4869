"""Image generation through the one pipeline (``POST /v1/images/generations``).

Usage::

    body, served = await gateway.images(request, principal, pass_urls=False)

Images come back as base64 (``b64_json``). An upstream that answers with a URL has
it fetched from the provider's allowlisted origins and inlined, unless the operator
lets provider URLs through and the client asked for ``response_format: "url"``.
zdrgate never writes an image anywhere and never hosts an image URL.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zdrgate.catalog.model import Provider
from zdrgate.errors import InvalidRequest, UpstreamUnavailable
from zdrgate.policy import Approval
from zdrgate.protocols import endpoint_spec
from zdrgate.protocols.common import JSON
from zdrgate.protocols.media import GeneratedImage, ImageBatch
from zdrgate.service.plan import Plan
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.upstream.assets import AssetFetcher, AssetRefused
from zdrgate.wire.images import ImageRequest

ROUTE = "images.generations"

if TYPE_CHECKING:
    from zdrgate.service.metering import Metering


def refuse_url_answers(request: ImageRequest, pass_urls: bool) -> None:
    """``response_format: "url"`` only where the operator lets provider URLs through."""
    if request.response_format == "url" and not pass_urls:
        raise InvalidRequest(
            "zdrgate returns images as base64 and does not host image URLs; this gateway "
            "does not pass provider URLs through. Use response_format 'b64_json'.",
            param="response_format",
            code="unsupported_response_format",
        )


async def generate_images(
    runner: Runner, assets: AssetFetcher, plan: Plan, meter: Metering, request: ImageRequest
) -> tuple[JSON, Served]:
    async def attempt(approval: Approval) -> ImageBatch:
        endpoint = approval.endpoint
        codec = endpoint_spec(endpoint).require_images()
        call = codec.build_images(endpoint, request)
        return await runner.call_json(approval, call, codec.parse_images)

    batch, approval = await runner.first(plan.approvals, meter, attempt)
    endpoint = approval.endpoint
    keep_urls = request.response_format == "url"  # allowed: refuse_url_answers ran
    try:
        images = await inline_urls(assets, endpoint.provider, batch.images, keep_urls)
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
            **batch.usage_details,
        }
    return body


def _item(image: GeneratedImage) -> JSON:
    item: JSON = {"b64_json": image.b64_json} if image.b64_json else {"url": image.url}
    if image.revised_prompt:
        item["revised_prompt"] = image.revised_prompt
    return item
