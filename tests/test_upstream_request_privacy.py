"""What reaches the upstream: no storage flags, no identities, no client headers."""

from __future__ import annotations

import httpx
import pytest

from conftest import MASTER, GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.protocols.openai.chat import request_payload
from zdrgate.wire.chat import ChatRequest

CLIENT_HEADERS = {
    "Cookie": "session=abc123",
    "X-Forwarded-For": "203.0.113.9",
    "X-Real-IP": "203.0.113.9",
    "User-Agent": "my-client/1.0",
    "OpenAI-Organization": "org-caller",
}


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_gets_no_store_user_metadata_or_client_headers(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, stream: bool
) -> None:
    # "openai" is a catalog provider id: the adapter sends store=false to it.
    gw = make_gateway({"openai-like": provider(upstream.base_url, [chat_model("ok")], key="up")})
    body = {
        "model": "test/chat",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        "store": True,
        "user": "alice@example.com",
        "metadata": {"customer": "acme"},
        "safety_identifier": "alice",
        "prompt_cache_key": "alice-cache",
    }
    response = httpx.post(
        gw.v1 + "/chat/completions", json=body, headers={**gw.auth(), **CLIENT_HEADERS}
    )
    assert response.status_code == 200
    sent = upstream.requests[-1]
    for field in ("store", "user", "metadata", "safety_identifier", "prompt_cache_key"):
        assert sent.body.get(field) in (None, False), field
    lowered = {k.lower(): v for k, v in sent.headers.items()}
    for name in ("cookie", "x-forwarded-for", "x-real-ip", "openai-organization"):
        assert name not in lowered
    assert lowered.get("user-agent", "") != "my-client/1.0"
    assert lowered["authorization"] == "Bearer up"
    assert MASTER not in str(sent.headers) and MASTER not in str(sent.body)
    if stream:
        assert sent.body["stream_options"] == {"include_usage": True}


def test_openai_itself_gets_store_false() -> None:
    endpoints = load_packaged_catalog().models["openai/gpt-4o-mini"].endpoints
    endpoint = next(e for e in endpoints if e.provider.id == "openai")
    request = ChatRequest.model_validate(
        {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "x"}],
            "store": True,
            "user": "bob",
        }
    )
    payload = request_payload(endpoint, request)
    assert payload["store"] is False
    assert "user" not in payload
