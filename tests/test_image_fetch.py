"""Fetching images the gateway must inline: SSRF refusals, limits, and the happy path.

The default rules refuse 127.0.0.1, so the positive cases widen the address check
(and allow http) for the loopback fake only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest

from fake_media import FakeMedia, start_fake_media
from zdrgate.catalog.model import Confidence, PolicyRecord, Protocol, Provider, ZdrAvailability
from zdrgate.errors import InvalidRequest
from zdrgate.service.vision import inline_image_urls
from zdrgate.upstream.addresses import public_address
from zdrgate.upstream.assets import AssetFetcher, AssetRefused, FetchRules
from zdrgate.wire.chat import ChatRequest

LOOPBACK_RULES = FetchRules(schemes=frozenset({"http", "https"}), address_allowed=lambda ip: True)


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


@pytest.fixture
async def default_fetcher() -> AsyncIterator[AssetFetcher]:
    fetcher = AssetFetcher()
    yield fetcher
    await fetcher.close()


@pytest.fixture
async def loopback_fetcher() -> AsyncIterator[AssetFetcher]:
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_bytes=4096))
    yield fetcher
    await fetcher.close()


def vision_request(url: str) -> ChatRequest:
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return ChatRequest.model_validate(
        {"model": "m/x", "messages": [{"role": "user", "content": content}]}
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://[::1]/x.png",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/x.png",
        "https://localhost/x.png",  # resolves to loopback: refused in the resolver
    ],
)
async def test_private_urls_are_refused_by_default(default_fetcher: AssetFetcher, url: str) -> None:
    with pytest.raises(AssetRefused) as caught:
        await default_fetcher.public_image(url)
    assert caught.value.reason == "address_not_allowed"


async def test_loopback_fake_is_refused_by_default(
    media: FakeMedia, default_fetcher: AssetFetcher
) -> None:
    for url in (f"{media.origin}/assets/0.png", f"https://127.0.0.1:{media.port}/assets/0.png"):
        with pytest.raises(AssetRefused):
            await default_fetcher.public_image(url)
    assert media.asset_hits == 0


@pytest.mark.parametrize(
    "url", ["http://example.com/x.png", "ftp://example.com/x", "file:///etc/passwd"]
)
async def test_only_https_by_default(default_fetcher: AssetFetcher, url: str) -> None:
    with pytest.raises(AssetRefused) as caught:
        await default_fetcher.public_image(url)
    assert caught.value.reason == "scheme_not_allowed"


async def test_vision_url_to_private_address_is_a_400(default_fetcher: AssetFetcher) -> None:
    request = vision_request("https://192.168.0.10/cam.jpg")
    with pytest.raises(InvalidRequest) as caught:
        await inline_image_urls(default_fetcher, request)
    assert caught.value.status == 400
    assert caught.value.code == "image_url_refused"
    assert caught.value.param == "messages[0].content[1].image_url.url"
    assert "192.168" not in caught.value.message


async def test_vision_url_is_inlined_when_allowed(
    media: FakeMedia, loopback_fetcher: AssetFetcher
) -> None:
    request = vision_request(f"{media.origin}/assets/0.png")
    inlined = await inline_image_urls(loopback_fetcher, request)
    content = inlined.messages[0].content
    assert isinstance(content, list)
    url = content[1].image_url.url  # type: ignore[union-attr]
    assert url == f"data:image/png;base64,{media.b64}"
    assert request.messages[0].content[1].image_url.url.startswith("http://")  # type: ignore[index,union-attr]


async def test_data_urls_are_left_alone(default_fetcher: AssetFetcher) -> None:
    request = vision_request("data:image/png;base64,AAAA")
    assert await inline_image_urls(default_fetcher, request) is request


@pytest.mark.parametrize(
    ("name", "reason"),
    [("redirect", "redirect_refused"), ("text", "content_type_not_allowed"), ("big", "too_large")],
)
async def test_fetch_limits(
    media: FakeMedia, loopback_fetcher: AssetFetcher, name: str, reason: str
) -> None:
    with pytest.raises(AssetRefused) as caught:
        await loopback_fetcher.public_image(f"{media.origin}/assets/{name}")
    assert caught.value.reason == reason


def provider_with(origins: tuple[str, ...]) -> Provider:
    record = PolicyRecord(0, False, ZdrAvailability.DEFAULT, ("x",), None, Confidence.HIGH)
    return Provider("p", "P", Protocol.OPENAI, "https://api.p", "", record, asset_origins=origins)


async def test_provider_assets_only_from_allowed_origins(
    media: FakeMedia, default_fetcher: AssetFetcher
) -> None:
    url = f"{media.origin}/assets/0.png"
    with pytest.raises(AssetRefused) as caught:
        await default_fetcher.provider_asset(provider_with(()), url)
    assert caught.value.reason == "origin_not_allowed"
    for bad in (f"http://user@127.0.0.1:{media.port}/assets/0.png", "https://evil.example/x"):
        with pytest.raises(AssetRefused):
            await default_fetcher.provider_asset(provider_with((media.origin,)), bad)
    asset = await default_fetcher.provider_asset(provider_with((media.origin + "/",)), url)
    assert asset.data == media.image and asset.mime_type == "image/png"
    assert media.asset_hits == 1


# ------------------------------------------------------------ resource limits (#11.6)


async def test_encoded_bodies_are_refused_not_inflated(media: FakeMedia) -> None:
    """A 1 KiB gzip body of 1 MiB zeros: the fetcher neither asks for nor decodes it."""
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_bytes=2 * 1024 * 1024))
    try:
        with pytest.raises(AssetRefused) as caught:
            await fetcher.public_image(f"{media.origin}/assets/bomb")
    finally:
        await fetcher.close()
    assert caught.value.reason == "content_encoding_not_allowed"


async def test_fetches_of_one_request_share_a_byte_budget(media: FakeMedia) -> None:
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_request_bytes=5000))
    url = f"{media.origin}/assets/medium"  # 3,000 bytes
    try:
        budget = fetcher.budget()
        assert len((await fetcher.public_image(url, budget)).data) == 3000
        with pytest.raises(AssetRefused) as caught:
            await fetcher.public_image(url, budget)
        assert caught.value.reason == "request_budget_exceeded"
        assert budget.remaining == 2000  # refused on its Content-Length, nothing read
        # Another request has its own budget.
        assert len((await fetcher.public_image(url, fetcher.budget())).data) == 3000
    finally:
        await fetcher.close()


async def test_vision_inlining_stops_at_the_request_budget(media: FakeMedia) -> None:
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_request_bytes=5000))
    content = [
        {"type": "image_url", "image_url": {"url": f"{media.origin}/assets/medium"}}
        for _ in range(3)
    ]
    request = ChatRequest.model_validate(
        {"model": "m/x", "messages": [{"role": "user", "content": content}]}
    )
    try:
        with pytest.raises(InvalidRequest) as caught:
            await inline_image_urls(fetcher, request)
    finally:
        await fetcher.close()
    assert "request_budget_exceeded" in caught.value.message
    assert media.asset_hits == 2  # the third is not even asked for


async def test_concurrent_fetches_are_capped(media: FakeMedia) -> None:
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_concurrent=2))
    try:
        assets = await asyncio.gather(
            *(fetcher.public_image(f"{media.origin}/assets/slow") for _ in range(6))
        )
    finally:
        await fetcher.close()
    assert len(assets) == 6 and media.asset_hits == 6
    assert media.most_in_flight <= 2


_IMAGE_SERVER = """
import http.server, sys
BODY = bytes(range(256)) * 16384  # 4 MiB
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


async def test_a_fetched_image_is_held_about_once_in_memory() -> None:
    """Peak memory of fetching a 4 MiB image stays well under two copies of it (the
    receive buffer is the asset's data; it was copied into ``bytes`` before). The
    image server runs in another process, so only the fetch is traced."""
    server = subprocess.Popen(
        [sys.executable, "-c", _IMAGE_SERVER], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}/x.png"
    fetcher = AssetFetcher(dataclasses.replace(LOOPBACK_RULES, max_bytes=8 * 1024 * 1024))
    try:
        await fetcher.public_image(url)  # warm the session up; not measured
        tracemalloc.start()
        asset = await fetcher.public_image(url)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await fetcher.close()
        server.kill()
        server.wait()
        server.stdout.close()
    size = len(asset.data)
    assert size == 4 * 1024 * 1024
    assert peak < 1.6 * size
