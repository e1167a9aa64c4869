"""Streaming that never lies: keep-alives while waiting, disconnect cancels upstream."""

from __future__ import annotations

import time

import httpx
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.receipts import receipt_in_stream, verify_receipt

BODY = {"model": "test/chat", "stream": True, "messages": [{"role": "user", "content": "x"}]}


def test_keepalive_comments_while_waiting_then_clean_error(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("hang")])},
        extra={
            "server": {"stream_keepalive_seconds": 0.2},
            "upstream": {"read_timeout_seconds": 1.0},
        },
    )
    with httpx.stream(
        "POST", gw.v1 + "/chat/completions", json=BODY, headers=gw.auth(), timeout=10
    ) as response:
        assert response.status_code == 200  # committed early because the wait was long
        lines = list(response.iter_lines())
    assert lines.count(": keep-alive") >= 3
    data = [line for line in lines if line.startswith("data: ")]
    assert data[-1] == "data: [DONE]"
    assert '"upstream_error"' in data[-2]


def test_client_disconnect_cancels_the_upstream_request(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("slow")])})
    with httpx.stream(
        "POST", gw.v1 + "/chat/completions", json=BODY, headers=gw.auth(), timeout=10
    ) as response:
        assert next(response.iter_lines()).startswith("data: ")
    deadline = time.monotonic() + 5
    while upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.disconnects == 1


def test_client_leaving_before_the_first_event_cancels_the_upstream_request(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    models = [chat_model("hang"), chat_model("ok", model_id="test/ok")]
    gw = make_gateway({"p": provider(upstream.base_url, models)})
    with pytest.raises(httpx.ReadTimeout):  # nothing comes back; the client gives up
        httpx.post(gw.v1 + "/chat/completions", json=BODY, headers=gw.auth(), timeout=0.5)
    deadline = time.monotonic() + 5
    while upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.disconnects == 1
    # The same gateway still serves the next stream normally.
    ok = {**BODY, "model": "test/ok"}
    with httpx.stream("POST", gw.v1 + "/chat/completions", json=ok, headers=gw.auth()) as r:
        assert list(r.iter_lines())[-2] == "data: [DONE]"


def test_stream_headers_carry_the_receipt(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})
    with httpx.stream(
        "POST", gw.v1 + "/chat/completions", json=BODY, headers=gw.auth()
    ) as response:
        assert response.headers["x-zdr-endpoint"] == "p/ok"
        assert response.headers["content-type"].startswith("text/event-stream")
        assert list(response.iter_lines())[-2] == "data: [DONE]"


def test_late_start_sends_keepalives_then_the_receipt_as_a_comment(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("late")])},
        extra={"server": {"stream_keepalive_seconds": 0.1}},
    )
    with httpx.stream(
        "POST", gw.v1 + "/chat/completions", json=BODY, headers=gw.auth(), timeout=10
    ) as response:
        assert "x-zdr-endpoint" not in response.headers
        lines = [line for line in response.iter_lines() if line]
    assert lines[0] == ": keep-alive"
    receipt = next(line for line in lines if line.startswith(": x-zdr-endpoint="))
    assert receipt.startswith(": x-zdr-endpoint=p/late x-zdr-policy=sha256:")
    assert lines.index(receipt) < next(i for i, x in enumerate(lines) if x.startswith("data: "))
    assert lines[-1] == "data: [DONE]"


def test_late_start_receipt_covers_the_keepalives(
    upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("late")])},
        extra={"server": {"stream_keepalive_seconds": 0.1}},
    )
    response = httpx.post(gw.v1 + "/chat/completions", json=BODY, headers=gw.auth(), timeout=10)
    assert "zdr-receipt" not in response.headers  # the headers left before any decision
    token, covered = receipt_in_stream(response.content)
    assert covered.startswith(b": keep-alive\n\n")
    keys = gw.state.receipts.ring.verification_keys()
    result = verify_receipt(token, keys, None, covered)
    assert result.ok and result.claims is not None and result.claims["endpoint"] == "p/late"
