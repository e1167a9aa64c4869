"""The official openai SDK sees the same answers whichever protocol serves the model.

One gateway, three fake upstreams (OpenAI, Anthropic, Gemini wire formats) that give
the same canonical answer; every test runs over the three and compares shapes:
content, tool calls, finish reasons and usage, streamed and not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from conftest import RunningGateway
from protocol_fakes import PARITY

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0) as sdk:
        yield sdk


def _usage(usage: Any) -> tuple[int, int, int]:
    return (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


@pytest.mark.parametrize("protocol", PARITY)
def test_plain_chat_is_the_same_on_every_protocol(client: openai.OpenAI, protocol: str) -> None:
    raw = client.chat.completions.with_raw_response.create(model=f"test/{protocol}", messages=HELLO)
    result = raw.parse()
    assert result.object == "chat.completion"
    assert result.model == f"test/{protocol}"
    assert result.choices[0].message.role == "assistant"
    assert result.choices[0].message.content == "echo: hello"
    assert result.choices[0].message.tool_calls is None
    assert result.choices[0].finish_reason == "stop"
    assert _usage(result.usage) == (11, 7, 18)
    assert raw.headers["x-zdr-endpoint"] == f"zdr-{protocol}/ok"


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_chat_is_the_same_on_every_protocol(client: openai.OpenAI, protocol: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model=f"test/{protocol}",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three echo: hi"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["stop"]
    assert chunks[-1].choices == [] and _usage(chunks[-1].usage) == (11, 7, 18)


@pytest.mark.parametrize("protocol", PARITY)
def test_stream_without_include_usage_has_no_usage_chunk(
    client: openai.OpenAI, protocol: str
) -> None:
    chunks = list(
        client.chat.completions.create(model=f"test/{protocol}", messages=HELLO, stream=True)
    )
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize("protocol", PARITY)
def test_tool_calls_are_the_same_on_every_protocol(client: openai.OpenAI, protocol: str) -> None:
    result = client.chat.completions.create(
        model=f"test/{protocol}-tools", messages=HELLO, tools=TOOLS
    )
    calls = result.choices[0].message.tool_calls or []
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}),
        ("function", "get_time", {"tz": "CET"}),
    ]
    assert all(c.id for c in calls) and len({c.id for c in calls}) == 2
    assert result.choices[0].message.content is None
    assert result.choices[0].finish_reason == "tool_calls"
    assert _usage(result.usage) == (11, 7, 18)


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_tool_calls_are_the_same_on_every_protocol(
    client: openai.OpenAI, protocol: str
) -> None:
    stream = client.chat.completions.create(
        model=f"test/{protocol}-tools", messages=HELLO, tools=TOOLS, stream=True
    )
    calls: dict[int, dict[str, str]] = {}
    finishes = []
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "args": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function and delta.function.name) or ""
            call["args"] += (delta.function and delta.function.arguments) or ""
        finishes.append(chunk.choices[0].finish_reason)
    assert [(c["name"], json.loads(c["args"])) for c in calls.values()] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert all(c["id"] for c in calls.values())
    assert [f for f in finishes if f] == ["tool_calls"]


@pytest.mark.parametrize("protocol", ["anthropic", "gemini", "bedrock", "responses"])
def test_reasoning_comes_back_as_the_reasoning_field(
    gateway: RunningGateway, client: openai.OpenAI, protocol: str
) -> None:
    result = client.chat.completions.create(
        model=f"test/{protocol}-think", messages=HELLO, reasoning_effort="low"
    )
    message = result.choices[0].message.model_dump()
    assert message["reasoning"] == "let me think"
    assert message["content"] == "echo: hello"
    chunks = list(
        client.chat.completions.create(
            model=f"test/{protocol}-think", messages=HELLO, reasoning_effort="low", stream=True
        )
    )
    thought = "".join(c.choices[0].delta.model_dump().get("reasoning") or "" for c in chunks)
    assert thought == "let me think"


@pytest.mark.parametrize("protocol", ["anthropic", "gemini", "bedrock", "responses"])
def test_unicode_split_across_network_chunks_arrives_whole(
    client: openai.OpenAI, protocol: str
) -> None:
    chunks = list(
        client.chat.completions.create(
            model=f"test/{protocol}-unicode", messages=HELLO, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "héllo 😀 wörld ✓"
    assert "\ufffd" not in text


PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize("protocol", PARITY)
def test_vision_is_the_same_on_every_protocol(client: openai.OpenAI, protocol: str) -> None:
    """An inline image and a question: every protocol carries both (the fakes answer the
    text; each protocol's own tests check the image's upstream form)."""
    content: Any = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
    ]
    result = client.chat.completions.create(
        model=f"test/{protocol}", messages=[{"role": "user", "content": content}]
    )
    assert (result.choices[0].message.content or "").strip() == "echo: what is this"
    assert result.choices[0].finish_reason == "stop"
