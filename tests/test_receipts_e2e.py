"""Every model-serving route signs its responses: checked with PyJWT (a JOSE library
zdrgate does not sign with) against the JWKS the gateway serves, with ``req`` and
``res`` compared to the bytes on the wire."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import orjson
import pytest

from conftest import GatewayFactory, RunningGateway
from fake_media import FakeMedia, start_fake_media
from media_setup import embedding_model, image_model, media_provider
from protocol_fakes import three_providers
from zdrgate.receipts import receipt_in_stream, rotate_generated_key, verify_receipt

CHAT = {"model": "test/openai", "messages": [{"role": "user", "content": "receipt probe"}]}
MESSAGES = {**CHAT, "model": "test/anthropic", "max_tokens": 16}
RESPONSES = {"model": "test/gemini", "input": "receipt probe", "instructions": "be brief"}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pyjwt_claims(gw: RunningGateway, token: str) -> dict[str, Any]:
    jwks = jwt.PyJWKSet.from_dict(httpx.get(gw.url + "/.well-known/jwks.json").json())
    key = jwks[jwt.get_unverified_header(token)["kid"]].key
    return jwt.decode(token, key, algorithms=["EdDSA"])


def post(gw: RunningGateway, path: str, payload: dict[str, Any]) -> tuple[bytes, httpx.Response]:
    body = orjson.dumps(payload)
    headers = {**gw.auth(), "content-type": "application/json", "cookie": "session=abc"}
    response = httpx.post(gw.v1 + path, content=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return body, response


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


@pytest.fixture
def all_routes(
    three_fakes: dict[str, str], media: FakeMedia, make_gateway: GatewayFactory
) -> RunningGateway:
    providers = three_providers(three_fakes)
    models = [image_model("gpt-image-1"), embedding_model()]
    providers["zdr-media"] = media_provider(media.openai_url, models)
    return make_gateway(providers)


PLAIN = [
    ("/chat/completions", {**CHAT, "user": "u-1"}, "test/openai"),
    ("/messages", {**MESSAGES, "metadata": {"user_id": "u-2"}}, "test/anthropic"),
    ("/responses", {**RESPONSES, "metadata": {"k": "v"}, "store": True}, "test/gemini"),
    ("/images/generations", {"model": "test/image", "prompt": "a receipt"}, "test/image"),
    ("/embeddings", {"model": "test/embed", "input": "a receipt"}, "test/embed"),
]


@pytest.mark.parametrize(("path", "payload", "model"), PLAIN)
def test_plain_responses_carry_a_verifiable_receipt(
    all_routes: RunningGateway, path: str, payload: dict[str, Any], model: str
) -> None:
    sent, response = post(all_routes, path, payload)
    token = response.headers["zdr-receipt"]
    claims = pyjwt_claims(all_routes, token)
    assert claims["req"] == sha(sent)
    assert claims["res"] == sha(response.content)
    assert claims["model"] == model and claims["trains"] is False
    assert claims["endpoint"] == response.headers["x-zdr-endpoint"]
    assert claims["policy"] == response.headers["x-zdr-policy"]
    assert "cookie" in claims["stripped"]["headers"]
    assert claims["stripped"]["fields"] == sorted({"user", "metadata", "store"} & set(payload))
    keys = all_routes.state.receipts.ring.verification_keys()
    assert verify_receipt(token, keys, sent, response.content).ok
    assert not verify_receipt(token, keys, sent, response.content + b" ").ok


def test_policy_claim_is_the_digest_the_endpoints_route_serves(
    all_routes: RunningGateway,
) -> None:
    _, response = post(all_routes, "/chat/completions", CHAT)
    claims = pyjwt_claims(all_routes, response.headers["zdr-receipt"])
    listed = httpx.get(all_routes.v1 + "/models/test/openai/endpoints", headers=all_routes.auth())
    digests = {e["id"]: e["policy_digest"] for e in listed.json()["data"]["endpoints"]}
    assert digests[claims["endpoint"]] == claims["policy"]


STREAMS = [
    ("/chat/completions", {**CHAT, "stream": True}, b"data: [DONE]\n\n"),
    ("/messages", {**MESSAGES, "stream": True}, b"event: message_stop\n"),
    ("/responses", {**RESPONSES, "stream": True}, b"event: response.completed\n"),
]


@pytest.mark.parametrize(("path", "payload", "terminator"), STREAMS)
def test_streams_end_with_a_receipt_before_the_terminator(
    all_routes: RunningGateway, path: str, payload: dict[str, Any], terminator: bytes
) -> None:
    sent, response = post(all_routes, path, payload)
    decision = pyjwt_claims(all_routes, response.headers["zdr-receipt"])
    assert decision["res"] is None and decision["req"] == sha(sent)
    token, covered = receipt_in_stream(response.content)
    after = response.content[len(covered):]
    assert after.startswith(b": zdr-receipt=")
    assert after.split(b"\n\n", 1)[1].startswith(terminator)
    claims = pyjwt_claims(all_routes, token)
    assert claims["res"] == sha(covered) and claims["req"] == sha(sent)
    assert claims["jti"] == decision["jti"] and claims["endpoint"] == decision["endpoint"]
    keys = all_routes.state.receipts.ring.verification_keys()
    assert not verify_receipt(token, keys, sent, covered.replace(b"data", b"DATA", 1)).ok


def test_a_failed_responses_stream_ends_with_a_receipt_before_response_failed(
    all_routes: RunningGateway,
) -> None:
    broken = {**RESPONSES, "model": "test/openai-break", "stream": True}
    _, response = post(all_routes, "/responses", broken)
    token, covered = receipt_in_stream(response.content)
    after = response.content[len(covered) :]
    assert after.split(b"\n\n", 1)[1].startswith(b"event: response.failed\n")
    assert b"event: error\n" in covered  # the error event, then the receipt, then the end
    assert pyjwt_claims(all_routes, token)["res"] == sha(covered)


def test_an_old_key_still_verifies_after_rotation(
    three_fakes: dict[str, str], make_gateway: GatewayFactory, tmp_path: Any
) -> None:
    first = make_gateway(three_providers(three_fakes))
    _, response = post(first, "/chat/completions", CHAT)
    old = response.headers["zdr-receipt"]
    rotate_generated_key(tmp_path)
    second = make_gateway(three_providers(three_fakes))  # same data dir: a restart
    assert second.state.receipts.ring.kid != first.state.receipts.ring.kid
    _, response = post(second, "/chat/completions", CHAT)
    assert jwt.get_unverified_header(response.headers["zdr-receipt"])["kid"] != (
        jwt.get_unverified_header(old)["kid"]
    )
    assert pyjwt_claims(second, old)["model"] == "test/openai"
