"""Golden tests of the Anthropic Messages adapter: request, response, stream, errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_anthropic import FakeAnthropic, start_fake_anthropic
from unit.test_policy_engine import endpoint as base_endpoint
from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.anthropic.chat import AnthropicChat
from zdrgate.protocols.anthropic.errors import classify
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.wire.chat import ChatRequest

CODEC = AnthropicChat()
PNG = "data:image/png;base64,iVBORw0KGgo="


def endpoint(max_output: int | None = None) -> Endpoint:
    ep = base_endpoint()
    anthropic = dataclasses.replace(ep.provider, protocol=Protocol.ANTHROPIC)
    return dataclasses.replace(
        ep, provider=anthropic, upstream_id="claude-x", max_output_tokens=max_output
    )


def build(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    call = CODEC.build_chat(endpoint(), ChatRequest(model="a/m", **fields))
    body: dict[str, Any] = json.loads(call.body)
    return body


def test_request_golden() -> None:
    call = CODEC.build_chat(
        endpoint(),
        ChatRequest(
            model="a/m",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": "use metric"},
                {"role": "user", "content": "look"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "at these"},
                        {"type": "image_url", "image_url": {"url": PNG}},
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": "checking",
                    "tool_calls": [
                        {"id": "t1", "function": {"name": "f", "arguments": '{"a": 1}'}},
                        {"id": "t2", "function": {"name": "g", "arguments": ""}},
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "one"},
                {"role": "tool", "tool_call_id": "t2", "content": ""},
                {"role": "user", "content": "so?"},
            ],
            tools=[
                {"type": "function", "function": {"name": "f", "description": "F"}},
                {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}},
            ],
            tool_choice="required",
            parallel_tool_calls=False,
            stop="END",
            temperature=1.7,
            top_p=0.5,
            max_tokens=300,
            user="alice@example.com",
            metadata={"user_id": "alice"},
            seed=3,
        ),
    )
    assert call.path == "/messages" and call.method == "POST" and not call.stream
    assert ("anthropic-version", "2023-06-01") in call.headers
    assert not any(name in ("x-api-key", "authorization") for name, _ in call.headers)
    assert json.loads(call.body) == {
        "model": "claude-x",
        "max_tokens": 300,
        "system": "be brief\n\nuse metric",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "text", "text": "at these"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBORw0KGgo=",
                        },
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                    {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
                    {"type": "tool_result", "tool_use_id": "t2"},
                    {"type": "text", "text": "so?"},
                ],
            },
        ],
        "stop_sequences": ["END"],
        "tools": [
            {"name": "f", "description": "F", "input_schema": {"type": "object", "properties": {}}},
            {"name": "g", "input_schema": {"type": "object"}},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "temperature": 1.0,
        "top_p": 0.5,
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any] | None) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert build(tools=tools, tool_choice=choice).get("tool_choice") == expected


def test_max_tokens_defaults_to_the_endpoint_then_4096() -> None:
    request = ChatRequest(model="a/m", messages=[{"role": "user", "content": "hi"}])
    for ep, expected in ((endpoint(8192), 8192), (endpoint(), 4096)):
        assert json.loads(CODEC.build_chat(ep, request).body)["max_tokens"] == expected
    assert build(max_completion_tokens=9)["max_tokens"] == 9


def test_reasoning_becomes_extended_thinking_without_sampling_changes() -> None:
    body = build(reasoning_effort="medium", temperature=0.3, top_k=5, max_tokens=20000)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert "temperature" not in body and "top_k" not in body
    assert build(reasoning={"max_tokens": 3000})["thinking"]["budget_tokens"] == 3000
    # the budget must stay under max_tokens; too small a room means no thinking
    assert build(reasoning_effort="high", max_tokens=5000)["thinking"]["budget_tokens"] == 4999
    assert "thinking" not in build(reasoning_effort="high", max_tokens=900)
    assert "thinking" not in build(reasoning_effort="none")
    forced = build(
        reasoning_effort="low",
        tools=[{"type": "function", "function": {"name": "f"}}],
        tool_choice="required",
    )
    assert "thinking" not in forced


def test_empty_messages_are_dropped_and_all_empty_is_a_400() -> None:
    body = build(
        messages=[
            {"role": "user", "content": ""},
            {"role": "assistant", "content": ""},
            {
                "role": "user",
                "content": [{"type": "text", "text": ""}, {"type": "text", "text": "x"}],
            },
        ]
    )
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    with pytest.raises(InvalidRequest):
        build(messages=[{"role": "system", "content": "s"}, {"role": "user", "content": ""}])


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 2},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "http://x"}}],
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1"}}],
                }
            ]
        },
        {"messages": [{"role": "tool", "content": "x"}]},
    ],
)
def test_untranslatable_requests_are_400s(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        build(**fields)


def message(content: list[dict[str, Any]], stop: str = "end_turn") -> bytes:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "output_tokens": 4,
        },
    }
    return json.dumps(body).encode()


def test_response_golden() -> None:
    result = CODEC.parse_chat(
        endpoint(),
        message(
            [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "redacted_thinking", "data": "xx"},
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": [1]}},
                {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
            ],
            "tool_use",
        ),
    )
    assert result["object"] == "chat.completion" and result["model"] == "a/m"
    assert result["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "ab",
                "refusal": None,
                "reasoning": "hmm",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":[1]}'},
                    },
                    {"id": "t2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert result["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 4,
        "total_tokens": 21,
        "prompt_tokens_details": {"cached_tokens": 5},
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons(stop: str, finish: str) -> None:
    result = CODEC.parse_chat(endpoint(), message([{"type": "text", "text": "x"}], stop))
    assert result["choices"][0]["finish_reason"] == finish


def test_empty_content_is_an_empty_string() -> None:
    result = CODEC.parse_chat(endpoint(), message([]))
    assert result["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "message"}'])
def test_malformed_responses_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.parse_chat(endpoint(), body)


def sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def stream_bytes(blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]], stop: bool) -> bytes:
    usage = {"input_tokens": 3, "cache_read_input_tokens": 1, "output_tokens": 1}
    out = [sse({"type": "message_start", "message": {"id": "msg_9", "usage": usage}})]
    out.append(sse({"type": "ping"}))
    for index, (block, deltas) in enumerate(blocks):
        out.append(sse({"type": "content_block_start", "index": index, "content_block": block}))
        for delta in deltas:
            out.append(sse({"type": "content_block_delta", "index": index, "delta": delta}))
        out.append(sse({"type": "content_block_stop", "index": index}))
    if stop:
        delta = {"stop_reason": "tool_use", "stop_sequence": None}
        out.append(sse({"type": "message_delta", "delta": delta, "usage": {"output_tokens": 9}}))
        out.append(sse({"type": "message_stop"}))
    return b"".join(out)


ARGS = '{"city": "Zürich", "days": [1, 2, 3]}'
BLOCKS = [
    (
        {"type": "thinking", "thinking": ""},
        [
            {"type": "thinking_delta", "thinking": "plan"},
            {"type": "signature_delta", "signature": "sig"},
        ],
    ),
    ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "Grüße 😀"}]),
    (
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
        [
            {"type": "input_json_delta", "partial_json": ARGS[i : i + 2]}
            for i in range(0, len(ARGS), 2)
        ],
    ),
    (
        {"type": "tool_use", "id": "t2", "name": "g", "input": {}},
        [
            {"type": "input_json_delta", "partial_json": ""},
            {"type": "input_json_delta", "partial_json": "{}"},
        ],
    ),
]


def decode(data: bytes, step: int | None = None) -> list[dict[str, Any]]:
    decoder = CODEC.stream_decoder(
        endpoint(), ChatRequest(model="a/m", messages=[{"role": "user", "content": "x"}])
    )
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    chunks = [c for piece in pieces for c in decoder.feed(piece)]
    return chunks + decoder.finish()


def test_stream_golden() -> None:
    chunks = decode(stream_bytes(BLOCKS, stop=True))
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "msg_9" for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning": "plan"}
    assert deltas[2] == {"content": "Grüße 😀"}
    assert deltas[3] == {
        "tool_calls": [
            {"index": 0, "id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
        ]
    }
    args = "".join(
        d["tool_calls"][0]["function"]["arguments"]
        for d in deltas
        if d.get("tool_calls") and d["tool_calls"][0]["index"] == 0
    )
    assert json.loads(args) == json.loads(ARGS)
    second = [
        d["tool_calls"][0]
        for d in deltas
        if d.get("tool_calls") and d["tool_calls"][0]["index"] == 1
    ]
    assert second[0]["id"] == "t2" and "".join(c["function"]["arguments"] for c in second) == "{}"
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 9,
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 1},
    }


def test_stream_split_at_every_byte_gives_the_same_chunks() -> None:
    """Network chunks may split anywhere, including inside a multi-byte character."""
    data = stream_bytes(BLOCKS, stop=True)
    whole = [c["choices"] for c in decode(data)]
    assert [c["choices"] for c in decode(data, step=1)] == whole
    assert [c["choices"] for c in decode(data, step=7)] == whole


def test_stream_without_a_stop_reason_is_an_error() -> None:
    with pytest.raises(StreamProtocolError) as info:
        decode(stream_bytes(BLOCKS, stop=False))
    assert info.value.kind is ErrorKind.PROTOCOL_ERROR


def test_message_stop_without_a_stop_reason_is_an_error() -> None:
    data = stream_bytes(BLOCKS, stop=False) + sse({"type": "message_stop"})
    with pytest.raises(StreamProtocolError):
        decode(data)


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [("overloaded_error", ErrorKind.OVERLOADED), ("api_error", ErrorKind.SERVER_ERROR)],
)
def test_error_event_mid_stream_raises(error_type: str, kind: ErrorKind) -> None:
    error = {"type": "error", "error": {"type": error_type, "message": "secret prompt"}}
    data = stream_bytes(BLOCKS[:1], stop=False) + sse(error)
    with pytest.raises(StreamProtocolError) as info:
        decode(data)
    assert info.value.kind is kind
    assert "secret" not in str(info.value)


def error_body(kind: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": "your prompt: secret"}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "headers", "kind", "expected"),
    [
        (529, {}, "overloaded_error", ErrorKind.OVERLOADED),
        (500, {}, "overloaded_error", ErrorKind.OVERLOADED),
        (429, {"retry-after": "7"}, "rate_limit_error", ErrorKind.RATE_LIMITED),
        (401, {}, "authentication_error", ErrorKind.AUTH_FAILED),
        (400, {}, "invalid_request_error", ErrorKind.BAD_REQUEST),
        (500, {}, "api_error", ErrorKind.SERVER_ERROR),
    ],
)
def test_classify_error(
    status: int, headers: dict[str, str], kind: str, expected: ErrorKind
) -> None:
    info = classify(status, headers, error_body(kind))
    assert info.kind is expected and info.code == kind
    assert info.retry_after == (7.0 if headers else None)
    assert "secret" not in repr(info)


# --- through a running gateway -------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    fake, server = start_fake_anthropic()
    yield fake
    server.stop()


def chat(gw: Any, model: str, **fields: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "secret prompt"}], **fields}
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth(), timeout=10)


def test_upstream_request_has_version_and_key_and_nothing_identifying(
    fake: FakeAnthropic, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"a": provider(fake.base_url, [chat_model("ok")], key="ak", protocol="anthropic")}
    )
    response = chat(gw, "test/chat", user="alice", metadata={"user_id": "alice"})
    assert response.status_code == 200
    sent = fake.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "ak"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    assert "metadata" not in sent.body and "alice" not in json.dumps(sent.body)


@pytest.mark.parametrize("failing", ["fail429", "fail529", "fail500"])
def test_retryable_errors_fall_back_to_the_next_endpoint(
    fake: FakeAnthropic, make_gateway: GatewayFactory, failing: str
) -> None:
    first = provider(fake.base_url, [chat_model(failing, price=0.1)], protocol="anthropic")
    second = provider(fake.base_url, [chat_model("ok", price=5.0)], protocol="anthropic")
    gw = make_gateway({"first": first, "second": second}, extra={})
    response = chat(gw, "test/chat", provider={"sort": "price"})
    assert response.status_code == 200
    assert response.headers["x-zdr-endpoint"] == "second/ok"


def test_upstream_400_is_final_and_its_body_is_not_relayed(
    fake: FakeAnthropic, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"a": provider(fake.base_url, [chat_model("bad400")], protocol="anthropic")})
    response = chat(gw, "test/chat")
    assert response.status_code == 400
    assert "secret" not in response.text
    assert response.json()["error"]["code"] == "invalid_request_error"


def assert_ended_loudly(response: httpx.Response) -> None:
    """A broken stream either fell back (nothing had been sent: a 5xx envelope) or
    ends with an error chunk and [DONE]; never a silent, normal-looking end."""
    if response.status_code != 200:
        assert response.status_code >= 500 and response.json()["error"]["code"]
        return
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "error"
    assert last["error"]["type"] == "upstream_error"


@pytest.mark.parametrize("mode", ["nostop", "errorevent", "break"])
def test_a_stream_that_breaks_off_never_ends_silently(
    fake: FakeAnthropic, make_gateway: GatewayFactory, mode: str
) -> None:
    gw = make_gateway({"a": provider(fake.base_url, [chat_model(mode)], protocol="anthropic")})
    response = chat(gw, "test/chat", stream=True)
    assert_ended_loudly(response)
    assert "secret" not in response.text.replace("echo: secret prompt", "")
