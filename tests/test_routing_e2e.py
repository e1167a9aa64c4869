"""Policy and fallback, end to end: a real gateway, fake upstreams, request counters."""

from __future__ import annotations

import httpx
import openai
import pytest

from conftest import RETAINING_POLICY, GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI

HELLO = {"model": "test/chat", "messages": [{"role": "user", "content": "hello"}]}


def retaining_and_zdr(upstream: FakeOpenAI, zdr_mode: str) -> dict:
    return {
        "zdr": provider(upstream.base_url, [chat_model(zdr_mode, price=5.0)], key="zdr-key"),
        "cheap-retainer": provider(
            upstream.base_url, [chat_model("ok", price=0.01)], RETAINING_POLICY, key="retainer-key"
        ),
    }


def requests_with_key(upstream: FakeOpenAI, key: str) -> int:
    return sum(1 for r in upstream.requests if r.headers.get("Authorization") == f"Bearer {key}")


def test_zdr_endpoint_serves_even_when_a_retaining_one_is_cheaper(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(retaining_and_zdr(upstream, "ok"))
    for _ in range(10):
        response = httpx.post(gw.v1 + "/chat/completions", json=HELLO, headers=gw.auth())
        assert response.status_code == 200
        assert response.headers["x-zdr-endpoint"] == "zdr/ok"
    assert requests_with_key(upstream, "zdr-key") == 10
    assert requests_with_key(upstream, "retainer-key") == 0


@pytest.mark.parametrize("failure", ["fail500", "fail503", "fail429", "hang"])
def test_when_the_zdr_endpoint_fails_the_retaining_one_is_never_tried(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, failure: str
) -> None:
    extra = {"upstream": {"read_timeout_seconds": 0.5}}
    gw = make_gateway(retaining_and_zdr(upstream, failure), extra=extra)
    for stream in (False, True):
        response = httpx.post(
            gw.v1 + "/chat/completions",
            json={**HELLO, "stream": stream},
            headers=gw.auth(),
            timeout=10,
        )
        assert response.status_code in (502, 503)
        error = response.json()["error"]
        assert error["type"] == "upstream_error"
        assert "hello" not in response.text  # the upstream body quoted the prompt
    assert requests_with_key(upstream, "retainer-key") == 0


def test_fallback_after_500_gives_one_clean_response(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {
            "first": provider(upstream.base_url, [chat_model("fail500", price=0.1)], key="k1"),
            "second": provider(upstream.base_url, [chat_model("ok", price=9.0)], key="k2"),
        }
    )
    client = openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)
    body = {"provider": {"sort": "price"}}
    raw = client.chat.completions.with_raw_response.create(
        model="test/chat", messages=[{"role": "user", "content": "hi"}], extra_body=body
    )
    assert raw.parse().choices[0].message.content == "echo: hi"
    assert raw.headers["x-zdr-endpoint"] == "second/ok"
    stream = client.chat.completions.create(
        model="test/chat",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_body=body,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).endswith("hi")
    # The failed endpoint sits out its cooldown: the stream went straight to "second".
    assert requests_with_key(upstream, "k1") == 1
    assert requests_with_key(upstream, "k2") == 2


def test_upstream_400_is_not_retried_and_its_body_is_not_relayed(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {
            "first": provider(upstream.base_url, [chat_model("bad400", price=0.1)], key="k1"),
            "second": provider(upstream.base_url, [chat_model("ok", price=9.0)], key="k2"),
        }
    )
    body = {
        **HELLO,
        "provider": {"sort": "price"},
        "messages": [{"role": "user", "content": "secret-words"}],
    }
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"  # machine code kept
    assert "secret-words" not in response.text  # message dropped
    assert requests_with_key(upstream, "k2") == 0


def test_stream_broken_after_first_chunk_ends_with_error_chunk_and_done(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("break")])})
    with httpx.stream(
        "POST",
        gw.v1 + "/chat/completions",
        json={**HELLO, "stream": True},
        headers=gw.auth(),
        timeout=10,
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert '"finish_reason":"error"' in lines[-2]
    assert "one " in "".join(lines)


def test_models_fallback_list_moves_to_the_next_model(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {
            "a": provider(upstream.base_url, [chat_model("fail500", model_id="test/first")]),
            "b": provider(upstream.base_url, [chat_model("ok", model_id="test/second")]),
        }
    )
    body = {
        "model": "test/first",
        "models": ["test/second"],
        "messages": [{"role": "user", "content": "x"}],
    }
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 200
    assert response.json()["model"] == "test/second"


def test_provider_only_can_narrow_but_never_reach_a_retaining_endpoint(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(retaining_and_zdr(upstream, "ok"))
    for prefs in (
        {"only": ["cheap-retainer"]},
        {"order": ["cheap-retainer"], "zdr": False, "data_collection": "allow"},
    ):
        response = httpx.post(
            gw.v1 + "/chat/completions", json={**HELLO, "provider": prefs}, headers=gw.auth()
        )
        if "only" in prefs:
            assert response.status_code == 404
            assert "cheap-retainer/ok [retains_data" in response.json()["error"]["message"]
        else:
            assert response.headers["x-zdr-endpoint"] == "zdr/ok"
    assert requests_with_key(upstream, "retainer-key") == 0
