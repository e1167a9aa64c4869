"""Image generation through zdrgate with the official SDK, against fake upstreams."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator

import httpx
import openai
import pytest

from conftest import GatewayFactory, RunningGateway
from fake_media import FakeMedia, start_fake_media
from media_setup import RETAINING_POLICY, image_model, media_provider, usage_rows
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.model import Catalog


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


def sdk(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)


def test_sdk_generates_base64_images(media: FakeMedia, make_gateway: GatewayFactory) -> None:
    gw = make_gateway({"zdr": media_provider(media.openai_url, [image_model("gpt-image-1")])})
    raw = sdk(gw).images.with_raw_response.generate(
        model="test/image", prompt="a red fox", n=2, size="1024x1024", quality="high"
    )
    result = raw.parse()
    assert result.data is not None and len(result.data) == 2
    assert base64.b64decode(result.data[0].b64_json or "") == media.image
    assert result.usage is not None and result.usage.output_tokens == 2000
    # the upstream's token details reach the SDK as the objects its types promise
    assert result.usage.input_tokens_details.text_tokens == 20
    assert result.usage.input_tokens_details.image_tokens == 0
    details = raw.http_response.json()["usage"]["output_tokens_details"]
    assert details == {"image_tokens": 2000, "text_tokens": 0}
    assert raw.headers["x-zdr-endpoint"] == "zdr/gpt-image-1"
    sent = media.requests[-1]
    assert sent.body == {
        "model": "gpt-image-1",
        "prompt": "a red fox",
        "n": 2,
        "size": "1024x1024",
        "quality": "high",
    }
    assert sent.headers["Authorization"] == "Bearer upstream-key"
    [row] = usage_rows(gw, "images.generations")
    assert row["status"] == 200 and row["model"] == "test/image"
    assert row["prompt_tokens"] == 20 and row["completion_tokens"] == 2000
    assert row["images"] == 2
    expected = (20 * 5.0 + 2000 * 40.0) / 1e6 + 2 * 0.04
    assert row["cost_usd"] == pytest.approx(expected)


def test_non_gpt_image_endpoints_are_asked_for_base64(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"zdr": media_provider(media.openai_url, [image_model("flux")])})
    result = sdk(gw).images.generate(model="test/image", prompt="p", user="alice")
    assert result.data is not None and result.data[0].b64_json == media.b64
    assert media.requests[-1].body == {
        "model": "flux",
        "prompt": "p",
        "response_format": "b64_json",
    }


def test_gemini_image_generation(media: FakeMedia, make_gateway: GatewayFactory) -> None:
    model = image_model("gemini-2.5-flash-image", image_price=0.039)
    gw = make_gateway(
        {"google": media_provider(media.gemini_url, [model], protocol="gemini", key="g-key")}
    )
    result = sdk(gw).images.generate(model="test/image", prompt="a cat", n=2, size="1536x1024")
    assert result.data is not None and [d.b64_json for d in result.data] == [media.b64] * 2
    sent = media.requests[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert sent.headers["x-goog-api-key"] == "g-key"
    assert sent.body == {
        "contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "candidateCount": 2,
            "imageConfig": {"aspectRatio": "3:2"},
        },
    }


def test_upstream_image_url_is_inlined_as_base64(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    provider = media_provider(
        media.openai_url, [image_model("img-url")], asset_origins=[media.origin]
    )
    gw = make_gateway({"zdr": provider})
    result = sdk(gw).images.generate(model="test/image", prompt="p", n=2)
    assert result.data is not None
    assert [d.b64_json for d in result.data] == [media.b64] * 2
    assert all(d.url is None for d in result.data)
    assert media.asset_hits == 2


def test_upstream_url_outside_asset_origins_is_not_fetched(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    for mode in ("img-url", "img-foreign"):
        gw = make_gateway({"zdr": media_provider(media.openai_url, [image_model(mode)])})
        with pytest.raises(openai.APIStatusError) as caught:
            sdk(gw).images.generate(model="test/image", prompt="secret prompt")
        assert caught.value.status_code == 502
        assert "origin_not_allowed" in caught.value.message
        assert "secret" not in caught.value.response.text
    assert media.asset_hits == 0


def test_url_response_format_needs_the_operator_setting(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    providers = {"zdr": media_provider(media.openai_url, [image_model("img-url")])}
    gw = make_gateway(providers)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gw).images.generate(model="test/image", prompt="p", response_format="url")
    assert caught.value.code == "unsupported_response_format"
    assert media.count() == 0
    allowed = make_gateway(providers, extra={"images": {"pass_through_provider_urls": True}})
    result = sdk(allowed).images.generate(model="test/image", prompt="p", response_format="url")
    assert result.data is not None and result.data[0].url == f"{media.origin}/assets/0.png"
    assert media.requests[-1].body["response_format"] == "url"
    assert media.asset_hits == 0


def test_unknown_fields_are_refused(media: FakeMedia, make_gateway: GatewayFactory) -> None:
    gw = make_gateway({"zdr": media_provider(media.openai_url, [image_model("gpt-image-1")])})
    body = {"model": "test/image", "prompt": "p", "mask": "x"}
    response = httpx.post(gw.v1 + "/images/generations", json=body, headers=gw.auth())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_parameter"
    assert media.count() == 0


def test_retaining_image_endpoint_gets_nothing(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    provider = media_provider(
        media.openai_url, [image_model("gpt-image-1")], policy=RETAINING_POLICY
    )
    gw = make_gateway({"keeper": provider})
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(gw).images.generate(model="test/image", prompt="p")
    assert caught.value.code == "no_zdr_endpoint"
    assert "keeper/gpt-image-1" in caught.value.message
    assert media.count() == 0


def test_text_model_is_not_an_image_endpoint(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    text = {"id": "test/text", "upstream_id": "gpt-image-1"}
    gw = make_gateway({"zdr": media_provider(media.openai_url, [text])})
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(gw).images.generate(model="test/text", prompt="p")
    assert "missing_capability" in caught.value.message
    assert media.count() == 0


def test_upstream_error_is_classified_not_relayed(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"zdr": media_provider(media.openai_url, [image_model("bad400")])})
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gw).images.generate(model="test/image", prompt="my secret prompt")
    assert caught.value.code == "invalid_prompt"
    assert "secret" not in caught.value.response.text


def openai_image_catalog() -> Catalog:
    """The shipped OpenAI image models, without regional endpoints (never leave loopback)."""
    shipped = load_packaged_catalog()
    models = {}
    for model_id in ("openai/gpt-image-1", "openai/dall-e-3", "openai/dall-e-2"):
        model = shipped.models[model_id]
        endpoints = tuple(
            e for e in model.endpoints if e.provider.id == "openai" and e.region is None
        )
        models[model_id] = dataclasses.replace(model, endpoints=endpoints)
    return Catalog({"openai": shipped.providers["openai"]}, models)


def test_shipped_catalog_routes_gpt_image_but_never_dall_e(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    origin = media.openai_url.split("/v1")[0]
    attestation = {"reference": "ZDR amendment", "attested_on": "2026-10-01", "origins": [origin]}
    conf = {"base_url": media.openai_url, "api_key": "sk-test", "zdr_attestation": attestation}
    gw = make_gateway({"openai": conf}, catalog=openai_image_catalog())
    client = sdk(gw)
    result = client.images.generate(model="openai/gpt-image-1", prompt="p")
    assert result.data is not None and result.data[0].b64_json == media.b64
    assert media.count() == 1
    for dalle in ("openai/dall-e-3", "openai/dall-e-2"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.images.generate(model=dalle, prompt="p")
        assert caught.value.code == "no_zdr_endpoint"
        assert "zdr_not_offered" in caught.value.message
    assert media.count() == 1
