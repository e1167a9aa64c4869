"""Vision inputs through chat: a URL is passed on where the protocol takes URLs, and
fetched (SSRF-guarded) only where it needs inline bytes (Gemini)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_gemini import FakeGemini, start_fake_gemini
from fake_media import FakeMedia, start_fake_media
from fake_openai import FakeOpenAI
from test_image_fetch import LOOPBACK_RULES
from zdrgate.upstream.assets import AssetFetcher


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    fake, server = start_fake_gemini()
    yield fake
    server.stop()


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


def vision_body(url: str) -> dict[str, object]:
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return {"model": "test/chat", "messages": [{"role": "user", "content": content}]}


def test_private_image_url_for_gemini_is_a_400_and_nothing_is_sent(
    gemini: FakeGemini, media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"g": provider(gemini.base_url, [chat_model("ok")], protocol="gemini")})
    for url in (
        f"{media.origin}/assets/0.png",
        "https://127.0.0.1/x.png",
        "https://10.1.2.3/x.png",
    ):
        response = httpx.post(gw.v1 + "/chat/completions", json=vision_body(url), headers=gw.auth())
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "image_url_refused"
        assert url not in response.text
    assert gemini.requests == [] and media.asset_hits == 0


def test_image_url_for_gemini_is_fetched_and_inlined_when_allowed(
    gemini: FakeGemini, media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"g": provider(gemini.base_url, [chat_model("ok")], protocol="gemini")},
        assets=AssetFetcher(LOOPBACK_RULES),
    )
    url = f"{media.origin}/assets/0.png"
    response = httpx.post(gw.v1 + "/chat/completions", json=vision_body(url), headers=gw.auth())
    assert response.status_code == 200, response.text
    parts = gemini.requests[-1].body["contents"][-1]["parts"]
    assert any("inlineData" in p for p in parts)
    assert media.asset_hits == 1


def test_openai_protocol_gets_the_url_and_the_gateway_fetches_nothing(
    upstream: FakeOpenAI, media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    # A declared provider inlines by default (below); this one opts out, as a public
    # OpenAI-compatible service declared in the config would.
    conf = {**provider(upstream.base_url, [chat_model("ok")]), "inline_image_urls": False}
    gw = make_gateway({"p": conf})
    url = "https://images.example/cat.png"
    response = httpx.post(gw.v1 + "/chat/completions", json=vision_body(url), headers=gw.auth())
    assert response.status_code == 200
    sent = upstream.requests[-1].body["messages"][0]["content"][1]["image_url"]["url"]
    assert sent == url and media.asset_hits == 0


def test_integers_beyond_64_bits_are_a_400(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})
    tool = {"type": "function", "function": {"name": "f", "parameters": {"maximum": 2**70}}}
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "x"}], "tools": [tool]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 400
    assert upstream.count() == 0


def test_self_hosted_openai_endpoint_never_receives_a_client_url(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    """A vLLM on the operator's network would fetch the URL from inside: refused here,
    since the gateway's own guarded fetch will not go to a private address."""
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})
    for url in ("https://10.0.0.5/cam.jpg", "https://169.254.169.254/latest", "https://2130706433/"):
        response = httpx.post(gw.v1 + "/chat/completions", json=vision_body(url), headers=gw.auth())
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "image_url_refused"
    assert upstream.count() == 0


def test_self_hosted_openai_endpoint_gets_the_image_inline(
    upstream: FakeOpenAI, media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])},
        assets=AssetFetcher(LOOPBACK_RULES),
    )
    url = f"{media.origin}/assets/0.png"
    response = httpx.post(gw.v1 + "/chat/completions", json=vision_body(url), headers=gw.auth())
    assert response.status_code == 200, response.text
    sent = upstream.requests[-1].body["messages"][0]["content"][1]["image_url"]["url"]
    assert sent == f"data:image/png;base64,{media.b64}"
    assert media.asset_hits == 1
