"""Image output through chat (``modalities: ["image", "text"]``), OpenRouter's convention."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from conftest import GatewayFactory, RunningGateway
from fake_media import FakeMedia, start_fake_media
from media_setup import media_provider
from zdrgate.protocols.gemini.media import inline_images


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


@pytest.fixture
def gw(media: FakeMedia, make_gateway: GatewayFactory) -> RunningGateway:
    models = [
        {"id": "test/painter", "upstream_id": "painter", "output_modalities": ["text", "image"]},
        {"id": "test/writer", "upstream_id": "writer"},
    ]
    return make_gateway({"zdr": media_provider(media.openai_url, models)})


def ask(gw: RunningGateway, model: str, stream: bool) -> object:
    client = openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)
    return client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "draw a fox"}],
        modalities=["image", "text"],  # type: ignore[list-item]
        stream=stream,
    )


def test_images_in_message(gw: RunningGateway, media: FakeMedia) -> None:
    result = ask(gw, "test/painter", stream=False)
    message = result.choices[0].message  # type: ignore[attr-defined]
    images = message.model_extra["images"]
    assert images[0]["image_url"]["url"] == f"data:image/png;base64,{media.b64}"
    assert media.requests[-1].body["modalities"] == ["image", "text"]


def test_images_in_stream_delta(gw: RunningGateway, media: FakeMedia) -> None:
    chunks = list(ask(gw, "test/painter", stream=True))  # type: ignore[call-overload]
    images = [
        image
        for chunk in chunks
        if chunk.choices
        for image in (chunk.choices[0].delta.model_extra or {}).get("images", [])
    ]
    assert [i["image_url"]["url"] for i in images] == [f"data:image/png;base64,{media.b64}"]


def test_text_only_model_is_not_asked_for_images(gw: RunningGateway, media: FakeMedia) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        ask(gw, "test/writer", stream=False)
    assert "missing_capability" in caught.value.message
    assert media.count() == 0


def test_gemini_inline_data_parts_become_message_images() -> None:
    parts = [
        {"text": "Here you go."},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
        {"inline_data": {"mime_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0"}},
    ]
    assert inline_images(parts) == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_protocol_image_output_through_chat(
    media: FakeMedia, make_gateway: GatewayFactory, stream: bool
) -> None:
    models = [{"id": "test/nano", "upstream_id": "nano", "output_modalities": ["text", "image"]}]
    gw = make_gateway({"g": media_provider(media.gemini_url, models, protocol="gemini")})
    result = ask(gw, "test/nano", stream=stream)
    if stream:
        deltas = [c.choices[0].delta for c in result if c.choices]  # type: ignore[attr-defined]
        text = "".join(d.content or "" for d in deltas)
        images = [i for d in deltas for i in (d.model_extra or {}).get("images", [])]
    else:
        message = result.choices[0].message  # type: ignore[attr-defined]
        text, images = message.content, message.model_extra["images"]
    assert text == "Here you go."
    assert [i["image_url"]["url"] for i in images] == [f"data:image/png;base64,{media.b64}"]
    config = media.requests[-1].body["generationConfig"]
    assert config["responseModalities"] == ["TEXT", "IMAGE"]
