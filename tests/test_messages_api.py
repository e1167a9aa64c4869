"""The official anthropic SDK against ``/v1/messages``, for models on every protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from conftest import RETAINING_POLICY, GatewayFactory, RunningGateway, chat_model, provider
from protocol_fakes import PARITY
from zdrgate.protocols import ErrorKind
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.anthropic.inbound.render import MessageEvents
from zdrgate.server.messages import anthropic_inbound
from zdrgate.server.streaming import InboundRenderer
from zdrgate.service.events import END, Chunks, StreamFailed

TOOLS: Any = [
    {
        "name": "get_weather",
        "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0) as sdk:
        yield sdk


@pytest.mark.parametrize("protocol", PARITY)
def test_plain_message(client: anthropic.Anthropic, protocol: str) -> None:
    raw = client.messages.with_raw_response.create(
        model=f"test/{protocol}", max_tokens=100, messages=HELLO
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "echo: hello")
    ]
    assert message.stop_reason == "end_turn"
    assert message.model == f"test/{protocol}"
    usage = message.usage
    assert usage.output_tokens == 7
    assert usage.input_tokens + (usage.cache_read_input_tokens or 0) == 11
    assert raw.headers["x-zdr-endpoint"] == f"zdr-{protocol}/ok"


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_message(client: anthropic.Anthropic, protocol: str) -> None:
    with client.messages.stream(
        model=f"test/{protocol}",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three echo: hi"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 7
    assert final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0) == 11


@pytest.mark.parametrize("protocol", PARITY)
def test_tool_use(client: anthropic.Anthropic, protocol: str) -> None:
    message = client.messages.create(
        model=f"test/{protocol}-tools", max_tokens=100, messages=HELLO, tools=TOOLS
    )
    uses = [b for b in message.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_tool_use(client: anthropic.Anthropic, protocol: str) -> None:
    with client.messages.stream(
        model=f"test/{protocol}-tools", max_tokens=100, messages=HELLO, tools=TOOLS
    ) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert all(u.id for u in uses)
    assert final.stop_reason == "tool_use"


@pytest.mark.parametrize("protocol", PARITY)
def test_tool_result_round_trip(client: anthropic.Anthropic, protocol: str) -> None:
    """A second turn with tool_use and tool_result blocks is accepted by every protocol."""
    first = client.messages.create(
        model=f"test/{protocol}-tools", max_tokens=100, messages=HELLO, tools=TOOLS
    )
    results: Any = [
        {"type": "tool_result", "tool_use_id": b.id, "content": '{"temp": 21}'}
        for b in first.content
        if b.type == "tool_use"
    ]
    second = client.messages.create(
        model=f"test/{protocol}",
        max_tokens=100,
        tools=TOOLS,
        messages=[
            *HELLO,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [*results, {"type": "text", "text": "and so?"}]},
        ],
    )
    assert second.content[0].type == "text"
    assert second.content[0].text == "echo: and so?"


@pytest.mark.parametrize("protocol", ["anthropic", "gemini", "bedrock", "responses"])
def test_thinking_comes_back_as_thinking_blocks(client: anthropic.Anthropic, protocol: str) -> None:
    thinking: Any = {"type": "enabled", "budget_tokens": 2048}
    message = client.messages.create(
        model=f"test/{protocol}-think", max_tokens=4096, messages=HELLO, thinking=thinking
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    with client.messages.stream(
        model=f"test/{protocol}-think", max_tokens=4096, messages=HELLO, thinking=thinking
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert getattr(final.content[0], "thinking", None) == "let me think"


def test_x_api_key_and_bearer_are_both_accepted(gateway: RunningGateway) -> None:
    body = {"model": "test/openai", "max_tokens": 10, "messages": HELLO}
    for headers in ({"x-api-key": gateway.key}, gateway.auth()):
        response = httpx.post(gateway.url + "/v1/messages", json=body, headers=headers)
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"model": "test/openai", "max_tokens": 10, "messages": HELLO}, 401, "authentication"),
        ({"model": "nope/nope", "max_tokens": 10, "messages": HELLO}, 404, "not_found_error"),
        ({"model": "test/openai", "messages": HELLO}, 400, "invalid_request_error"),
        (
            {"model": "test/openai", "max_tokens": 1, "messages": HELLO, "container": "c1"},
            400,
            "invalid_request_error",
        ),
    ],
)
def test_errors_use_the_anthropic_envelope(
    gateway: RunningGateway, body: dict[str, Any], status: int, kind: str
) -> None:
    headers = {} if status == 401 else {"x-api-key": gateway.key}
    response = httpx.post(gateway.url + "/v1/messages", json=body, headers=headers)
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"].startswith(kind)
    assert isinstance(payload["error"]["message"], str)


def test_sdk_raises_the_matching_exception(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="nope/nope", max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="test/anthropic-fail429", max_tokens=10, messages=HELLO)
    assert info.value.status_code == 503  # the only endpoint was rate limited
    assert "hello" not in info.value.response.text  # the upstream body is never relayed


def test_policy_applies_to_the_messages_route(
    three_fakes: dict[str, str], make_gateway: GatewayFactory
) -> None:
    retaining = provider(
        three_fakes["anthropic"], [chat_model("ok")], RETAINING_POLICY, protocol="anthropic"
    )
    gw = make_gateway({"retainer": retaining})
    with (
        anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0) as client,
        pytest.raises(anthropic.NotFoundError) as info,
    ):
        client.messages.create(model="test/chat", max_tokens=10, messages=HELLO)
    assert "retainer/ok" in info.value.message


@pytest.mark.parametrize("protocol", ["anthropic", "gemini", "bedrock", "responses"])
def test_stream_cut_short_raises_in_the_sdk(client: anthropic.Anthropic, protocol: str) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model=f"test/{protocol}-nostop", max_tokens=100, messages=HELLO
        ) as stream,
    ):
        stream.get_final_message()


def test_a_slow_start_sends_pings(
    three_fakes: dict[str, str], make_gateway: GatewayFactory
) -> None:
    hang = provider(three_fakes["openai"], [chat_model("hang")])
    gw = make_gateway({"slow": hang}, extra={"server": {"stream_keepalive_seconds": 0.05}})
    body = {"model": "test/chat", "max_tokens": 10, "messages": HELLO, "stream": True}
    headers = {"x-api-key": gw.key}
    with httpx.stream("POST", gw.url + "/v1/messages", json=body, headers=headers) as response:
        assert response.status_code == 200
        first = next(response.iter_bytes())
    assert first.startswith(b'event: ping\ndata: {"type":"ping"}')


def names(events: list[bytes]) -> list[str]:
    return [e.split(b"\n", 1)[0].removeprefix(b"event: ").decode() for e in events]


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-1", "choices": [choice], **extra}


def test_event_rendering_golden() -> None:
    render = MessageEvents("a/m")
    out: list[bytes] = []
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    for c in [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "hmm"}),
        chunk({"content": "Hi"}),
        chunk({"content": " there"}),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk({}, "tool_calls"),
        {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    ]:
        out += render.chunk(c)
    out += render.done()
    assert names(out) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(e.split(b"data: ", 1)[1]) for e in out]
    assert data[0]["message"]["id"] == "msg_chatcmpl-1"
    assert [d["index"] for d in data if d["type"] == "content_block_start"] == [0, 1, 2]
    assert data[8]["content_block"] == {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    assert data[-2]["delta"]["stop_reason"] == "tool_use"
    assert data[-2]["usage"]["input_tokens"] == 9 and data[-2]["usage"]["output_tokens"] == 4
    assert render.chunk(chunk({"content": "late"})) == [] and render.done() == []


def test_a_failed_stream_renders_as_an_error_event() -> None:
    """The service says "failed, of this kind" (no OpenAI error chunk to decode)."""
    request = MessagesRequest(model="a/m", max_tokens=1, messages=HELLO)
    render = InboundRenderer(anthropic_inbound(), request)
    out = render.render(Chunks([chunk({"content": "Hi"})]))
    out += render.render(StreamFailed(ErrorKind.TIMEOUT))
    assert names(out)[-1] == "error"
    body = json.loads(out[-1].split(b"data: ", 1)[1])
    message = StreamFailed(ErrorKind.TIMEOUT).message
    assert body == {
        "type": "error",
        "error": {"type": "api_error", "message": message, "code": "timeout"},
    }
    assert render.render(END) == [] and render.closing() == []  # nothing after the error
