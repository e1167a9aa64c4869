"""Inlining a chat request's image URLs for protocols that accept only inline data.

Image inputs arrive as data URLs or https URLs. A URL is passed to the upstream as
it is, except where the protocol cannot take one (Gemini AI Studio needs inline
bytes): then the gateway fetches it, through ``upstream.assets`` with size and type
limits, never from a private, loopback or link-local address, and never following a
redirect. Refusals are 400s that name the message part, never the URL.

Usage (for a Gemini-protocol approval, before the adapter builds the call)::

    request = await inline_image_urls(gateway.assets, request)
"""

from __future__ import annotations

from zdrgate.errors import InvalidRequest
from zdrgate.upstream.assets import AssetFetcher, AssetRefused, FetchBudget
from zdrgate.wire.chat import ChatRequest, ImagePart, Message

MAX_FETCHED_IMAGES = 16


def needs_fetch(url: str) -> bool:
    return not url.startswith("data:")


async def inline_image_urls(assets: AssetFetcher, request: ChatRequest) -> ChatRequest:
    """``request`` with each non-data image URL replaced by a base64 data URL.

    Returns ``request`` itself when there is nothing to fetch. Raises
    ``InvalidRequest`` (400) when an image may not or cannot be fetched.
    """
    wanted = [
        (i, j)
        for i, message in enumerate(request.messages)
        if isinstance(message.content, list)
        for j, part in enumerate(message.content)
        if isinstance(part, ImagePart) and needs_fetch(part.image_url.url)
    ]
    if not wanted:
        return request
    if len(wanted) > MAX_FETCHED_IMAGES:
        raise InvalidRequest(
            f"At most {MAX_FETCHED_IMAGES} image URLs can be inlined per request; send "
            "the images as data URLs.",
            param="messages",
            code="too_many_image_urls",
        )
    messages = list(request.messages)
    budget = assets.budget()  # shared by every image of this request
    for i, j in wanted:
        messages[i] = await _inlined(assets, budget, messages[i], i, j)
    return request.model_copy(update={"messages": messages})


async def _inlined(
    assets: AssetFetcher, budget: FetchBudget, message: Message, i: int, j: int
) -> Message:
    assert isinstance(message.content, list)
    part = message.content[j]
    assert isinstance(part, ImagePart)
    param = f"messages[{i}].content[{j}].image_url.url"
    try:
        asset = await assets.public_image(part.image_url.url, budget)
    except AssetRefused as exc:
        raise InvalidRequest(
            f"The image at {param} was not fetched ({exc.reason}). This endpoint needs "
            "image bytes inline, and zdrgate fetches only public https images within "
            "its size, type and per-request limits; send the image as a data URL instead.",
            param=param,
            code="image_url_refused",
        ) from None
    url = part.image_url.model_copy(update={"url": asset.data_url()})
    content = list(message.content)
    content[j] = part.model_copy(update={"image_url": url})
    return message.model_copy(update={"content": content})
