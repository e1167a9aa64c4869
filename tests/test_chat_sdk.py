"""The official openai SDK against a running gateway and fake upstreams."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_openai import FakeOpenAI


@pytest.fixture
def client(upstream: FakeOpenAI, make_gateway: GatewayFactory) -> openai.OpenAI:
    gw = make_gateway(
        {
            "zdr-a": provider(
                upstream.base_url, [chat_model("ok"), chat_model("tools", "test/tools")]
            )
        }
    )
    return openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)


def test_plain_chat(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="test/chat", messages=[{"role": "user", "content": "hello"}]
    )
    result = raw.parse()
    assert result.choices[0].message.content == "echo: hello"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "test/chat"
    assert result.usage is not None and result.usage.total_tokens == 18
    assert raw.headers["x-zdr-endpoint"] == "zdr-a/ok"
    assert raw.headers["x-zdr-policy"].startswith("sha256:")


def test_streamed_chat(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="test/chat",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three echo: hi"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


def test_stream_without_usage_request_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="test/chat", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)


def test_tools_non_streaming(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="test/tools",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            }
        ],
    )
    calls = result.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert result.choices[0].finish_reason == "tool_calls"


def test_tools_streaming_reassembles_split_arguments(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="test/tools",
        messages=[{"role": "user", "content": "weather?"}],
        stream=True,
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            }
        ],
    )
    args: dict[int, str] = {}
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            args[call.index] = args.get(call.index, "") + (call.function.arguments or "")
    assert json.loads(args[0]) == {"city": "Paris"}
    assert json.loads(args[1]) == {"tz": "CET"}
