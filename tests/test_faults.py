"""Fault injection: an upstream that hangs, resets, lies, drips or never stops.

For every fault the client gets a complete answer (from the next approved endpoint,
or from the dripping one) or an explicit error: an OpenAI error envelope, or in a
stream that had started an error chunk followed by ``[DONE]``. The fallback goes
only to ZDR endpoints: a retaining provider listed first in ``provider.order`` sees
nothing. Memory is bounded in bytes: the endless bodies stop near
``upstream.max_response_bytes``, counted at the sender.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import RETAINING_POLICY, GatewayFactory, RunningGateway, chat_model, provider
from fake_faults import FaultyUpstream
from fake_openai import FakeOpenAI, start_fake_openai

LIMIT = 1024 * 1024
SETTINGS = {"upstream": {"read_timeout_seconds": 0.5, "max_response_bytes": LIMIT}}
# What a fault may cost at most: the limit plus what loopback socket buffers hold.
SENT_CAP = 32 * LIMIT
BEFORE_FIRST_BYTE = ["hang_head", "reset", "rate429", "overloaded529", "bad_json",
                     "truncated_json", "endless_json"]
MID_STREAM = ["stall", "reset_mid", "bad_sse_mid", "truncated_sse", "endless"]


@pytest.fixture
def faulty() -> Iterator[FaultyUpstream]:
    fake = FaultyUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def retainer() -> Iterator[FakeOpenAI]:
    fake, server = start_fake_openai()
    yield fake
    server.stop()


def setup(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    backup: FakeOpenAI | None,
    retainer: FakeOpenAI,
    mode: str,
) -> RunningGateway:
    model = f"test/{mode}"
    providers: dict[str, Any] = {
        "faulty": provider(faulty.base_url, [chat_model(mode, model)]),
        "retainer": provider(retainer.base_url, [chat_model("ok", model)], RETAINING_POLICY),
    }
    if backup is not None:
        providers["backup"] = provider(backup.base_url, [chat_model("ok", model)])
    return make_gateway(providers, extra=SETTINGS)


def body(mode: str, stream: bool) -> dict[str, Any]:
    return {
        "model": f"test/{mode}",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
        "provider": {"order": ["faulty", "retainer", "backup"]},
    }


def post(gw: RunningGateway, mode: str, stream: bool) -> httpx.Response:
    return httpx.post(
        gw.v1 + "/chat/completions", json=body(mode, stream), headers=gw.auth(), timeout=30
    )


def events(response: httpx.Response) -> list[str]:
    return [
        line.removeprefix("data: ")
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]


@pytest.mark.parametrize("mode", BEFORE_FIRST_BYTE)
def test_a_fault_before_the_first_byte_falls_back_to_a_zdr_endpoint(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    upstream: FakeOpenAI,
    retainer: FakeOpenAI,
    mode: str,
) -> None:
    gw = setup(make_gateway, faulty, upstream, retainer, mode)
    response = post(gw, mode, stream=False)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "echo: hello"
    assert faulty.count(mode) == 1 and upstream.count() == 1
    assert retainer.count() == 0
    assert faulty.sent[mode] < SENT_CAP


@pytest.mark.parametrize("mode", ["hang_head", "reset", "rate429", "overloaded529", "bad_sse"])
def test_a_stream_that_fails_before_its_first_event_falls_back(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    upstream: FakeOpenAI,
    retainer: FakeOpenAI,
    mode: str,
) -> None:
    gw = setup(make_gateway, faulty, upstream, retainer, mode)
    response = post(gw, mode, stream=True)
    assert response.status_code == 200
    data = events(response)
    assert data[-1] == "[DONE]"
    text = "".join(
        json.loads(d)["choices"][0]["delta"].get("content") or ""
        for d in data[:-1] if json.loads(d)["choices"]
    )
    assert text == "one two three echo: hello"
    assert retainer.count() == 0


@pytest.mark.parametrize("mode", MID_STREAM)
def test_a_stream_that_breaks_after_it_started_ends_with_an_error_event_and_done(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    upstream: FakeOpenAI,
    retainer: FakeOpenAI,
    mode: str,
) -> None:
    gw = setup(make_gateway, faulty, upstream, retainer, mode)
    response = post(gw, mode, stream=True)
    assert response.status_code == 200
    data = events(response)
    assert data[-1] == "[DONE]"
    last = json.loads(data[-2])
    assert last["choices"][0]["finish_reason"] == "error"
    assert last["error"]["type"] == "upstream_error"
    first = json.loads(data[0])["choices"][0]["delta"]["content"]
    assert first.startswith(("one ", "more "))  # the faulty endpoint's own start
    assert upstream.count() == 0 and retainer.count() == 0  # no second answer spliced in
    assert faulty.sent[mode] < SENT_CAP


def test_a_dripping_stream_arrives_whole(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    upstream: FakeOpenAI,
    retainer: FakeOpenAI,
) -> None:
    gw = setup(make_gateway, faulty, upstream, retainer, "drip")
    response = post(gw, "drip", stream=True)
    data = events(response)
    assert data[-1] == "[DONE]"
    text = "".join(json.loads(d)["choices"][0]["delta"].get("content") or "" for d in data[:-1])
    assert text == "one two "
    assert upstream.count() == 0


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("rate429", 503, "upstream_overloaded"),
        ("overloaded529", 503, "upstream_overloaded"),
        ("hang_head", 502, "upstream_failed"),
        ("reset", 502, "upstream_failed"),
        ("bad_json", 502, "upstream_failed"),
        ("truncated_json", 502, "upstream_failed"),
        ("endless_json", 502, "upstream_failed"),
    ],
)
def test_with_no_endpoint_left_the_client_gets_an_envelope(
    make_gateway: GatewayFactory,
    faulty: FaultyUpstream,
    retainer: FakeOpenAI,
    mode: str,
    status: int,
    code: str,
) -> None:
    gw = setup(make_gateway, faulty, None, retainer, mode)
    response = post(gw, mode, stream=False)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert "slow down" not in response.text  # the upstream's message is not relayed
    assert retainer.count() == 0
    assert faulty.sent[mode] < SENT_CAP
