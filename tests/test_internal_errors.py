"""A bug in the gateway becomes a 500 envelope (or a cut stream), and its message,
which could quote a prompt, is never logged or returned."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.server.streaming import OpenAIRenderer

SECRET = "canary-in-an-exception-message"
BODY = {"model": "test/chat", "messages": [{"role": "user", "content": "hello"}]}


def test_an_unexpected_error_before_the_response_is_a_500_envelope(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(SECRET)

    monkeypatch.setattr(gw.state.gateway, "chat", broken)
    with caplog.at_level(logging.ERROR):
        response = httpx.post(gw.v1 + "/chat/completions", json=BODY, headers=gw.auth())
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["message"] == "The gateway hit an internal error."
    assert SECRET not in response.text
    assert "unexpected KeyError on /v1/chat/completions" in caplog.text
    assert SECRET not in caplog.text


def test_an_unexpected_error_mid_stream_cuts_the_stream_and_nothing_else(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gw = make_gateway({"p": provider(upstream.base_url, [chat_model("ok")])})
    original = OpenAIRenderer.render
    calls = {"n": 0}

    def render_then_fail(self: OpenAIRenderer, event: Any) -> list[bytes]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError(SECRET)
        return original(self, event)

    monkeypatch.setattr(OpenAIRenderer, "render", render_then_fail)
    with caplog.at_level(logging.ERROR), httpx.stream(
        "POST", gw.v1 + "/chat/completions", json={**BODY, "stream": True}, headers=gw.auth()
    ) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):  # cut short, never "completed"
            list(response.iter_lines())
    assert "unexpected ValueError on /v1/chat/completions" in caplog.text
    assert SECRET not in caplog.text
    monkeypatch.undo()
    ok = httpx.post(gw.v1 + "/chat/completions", json=BODY, headers=gw.auth())
    assert ok.status_code == 200  # the server carries on
