"""Embeddings through zdrgate with the official SDK, against fake upstreams."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import httpx
import openai
import pytest

from conftest import GatewayFactory, RunningGateway
from fake_media import FakeMedia, start_fake_media, vector_for
from media_setup import RETAINING_POLICY, embedding_model, media_provider, usage_rows


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


def sdk(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)


@pytest.fixture
def openai_gw(media: FakeMedia, make_gateway: GatewayFactory) -> RunningGateway:
    return make_gateway({"zdr": media_provider(media.openai_url, [embedding_model()])})


@pytest.fixture
def gemini_gw(media: FakeMedia, make_gateway: GatewayFactory) -> RunningGateway:
    model = embedding_model("gemini-embedding-001")
    return make_gateway(
        {"google": media_provider(media.gemini_url, [model], protocol="gemini", key="g")}
    )


def test_sdk_default_base64_round_trip(openai_gw: RunningGateway, media: FakeMedia) -> None:
    # The SDK asks for base64 unless told otherwise, and decodes it to floats.
    raw = sdk(openai_gw).embeddings.with_raw_response.create(
        model="test/embed", input=["alpha", "beta gamma"]
    )
    result = raw.parse()
    assert [d.embedding for d in result.data] == [vector_for("alpha"), vector_for("beta gamma")]
    assert [d.index for d in result.data] == [0, 1]
    assert result.model == "test/embed"
    assert result.usage.prompt_tokens == 3
    assert raw.headers["x-zdr-endpoint"] == "zdr/embed"
    # A custom vendor is not known to speak base64: floats were asked for upstream.
    assert media.requests[-1].body == {"model": "embed", "input": ["alpha", "beta gamma"]}
    [row] = usage_rows(openai_gw, "embeddings")
    assert row["prompt_tokens"] == 3 and row["completion_tokens"] == 0
    assert row["cost_usd"] == pytest.approx(3 * 0.1 / 1e6)


def test_float_and_base64_encodings(openai_gw: RunningGateway) -> None:
    as_float = sdk(openai_gw).embeddings.create(
        model="test/embed", input="alpha", encoding_format="float"
    )
    assert as_float.data[0].embedding == vector_for("alpha")
    body = {"model": "test/embed", "input": "alpha", "encoding_format": "base64"}
    response = httpx.post(openai_gw.v1 + "/embeddings", json=body, headers=openai_gw.auth())
    packed = base64.b64decode(response.json()["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == vector_for("alpha")


def test_token_arrays_pass_through_the_openai_protocol(
    openai_gw: RunningGateway, media: FakeMedia
) -> None:
    result = sdk(openai_gw).embeddings.create(model="test/embed", input=[[1, 2], [3]])
    assert len(result.data) == 2
    assert media.requests[-1].body["input"] == [[1, 2], [3]]


def test_gemini_batch_embed(gemini_gw: RunningGateway, media: FakeMedia) -> None:
    result = sdk(gemini_gw).embeddings.create(
        model="test/embed", input=["alpha", "beta"], dimensions=8
    )
    assert [d.embedding for d in result.data] == [vector_for("alpha"), vector_for("beta")]
    sent = media.requests[-1]
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    model = "models/gemini-embedding-001"
    assert sent.body == {
        "requests": [
            {"model": model, "content": {"parts": [{"text": t}]}, "outputDimensionality": 8}
            for t in ("alpha", "beta")
        ]
    }


def test_gemini_refuses_token_arrays(gemini_gw: RunningGateway, media: FakeMedia) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(gemini_gw).embeddings.create(model="test/embed", input=[1, 2, 3])
    assert caught.value.code == "unsupported_input"
    assert media.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"model": "test/embed", "input": []},
        {"model": "test/embed", "input": [""]},
        {"model": "test/embed", "input": "x", "encoding_format": "int8"},
        {"model": "test/embed", "input": "x", "truncate": True},
    ],
)
def test_invalid_requests_are_400(openai_gw: RunningGateway, media: FakeMedia, body: dict) -> None:
    response = httpx.post(openai_gw.v1 + "/embeddings", json=body, headers=openai_gw.auth())
    assert response.status_code == 400
    assert media.count() == 0


def test_retaining_embedding_endpoint_gets_nothing(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    provider = media_provider(media.openai_url, [embedding_model()], policy=RETAINING_POLICY)
    gw = make_gateway({"keeper": provider})
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(gw).embeddings.create(model="test/embed", input="secret")
    assert caught.value.code == "no_zdr_endpoint"
    assert media.count() == 0


def test_chat_model_is_not_an_embedding_endpoint(
    media: FakeMedia, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"zdr": media_provider(media.openai_url, [{"id": "test/chat"}])})
    with pytest.raises(openai.NotFoundError):
        sdk(gw).embeddings.create(model="test/chat", input="x")
    assert media.count() == 0
