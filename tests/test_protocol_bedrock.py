"""The Bedrock protocol: Converse translation, the classifier, and the gateway over the
fake Bedrock runtime with SigV4 (checked by the fake), Bedrock API keys, images, errors
and streams that fail after they started. The shared parity tests (openai and
anthropic SDKs) run over it too (test_protocol_parity.py, test_messages_api.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_bedrock import AWS_ENV, FakeBedrock, start_fake_bedrock
from fake_media import FakeMedia, start_fake_media
from test_image_fetch import LOOPBACK_RULES
from zdrgate.catalog.model import Confidence, Endpoint, PolicyRecord, Protocol, Provider
from zdrgate.catalog.model import ZdrAvailability as Zdr
from zdrgate.protocols import ErrorKind
from zdrgate.protocols.bedrock import SPEC
from zdrgate.protocols.bedrock.request import request_body
from zdrgate.protocols.bedrock.response import parse_converse
from zdrgate.service.attempt import rejected
from zdrgate.upstream.assets import AssetFetcher
from zdrgate.wire.chat import ChatRequest

RECORD = PolicyRecord(0, False, Zdr.DEFAULT, ("e",), None, Confidence.HIGH)
PROVIDER = Provider("b", "B", Protocol.BEDROCK, "https://x", "", RECORD)
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode()
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def endpoint(upstream_id: str = "m") -> Endpoint:
    return Endpoint("t/m", PROVIDER, upstream_id, RECORD)


def body_of(upstream_id: str = "m", **fields: Any) -> dict[str, Any]:
    request = ChatRequest.model_validate({"model": "t/m", **fields})
    return request_body(endpoint(upstream_id), request)


# ---------------------------------------------------------------- translation


def test_messages_system_and_inference_config() -> None:
    body = body_of(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": "in French"},
            {"role": "user", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
            {"role": "assistant", "content": "bonjour"},
            {"role": "user", "content": "and?"},
        ],
        max_tokens=100,
        temperature=0.5,
        top_p=0.9,
        stop="END",
        seed=3,
        user="someone@example.com",
    )
    assert body["system"] == [{"text": "be brief\n\nin French"}]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "hello"}, {"text": "again"}]},
        {"role": "assistant", "content": [{"text": "bonjour"}]},
        {"role": "user", "content": [{"text": "and?"}]},
    ]
    assert body["inferenceConfig"] == {
        "maxTokens": 100,
        "temperature": 0.5,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert "someone" not in json.dumps(body) and "seed" not in json.dumps(body)


def test_tools_tool_use_and_tool_results() -> None:
    body = body_of(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=TOOLS,
        tool_choice="required",
    )
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "sunny"}]}}],
    }
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather" and spec["description"] == "Weather of a city"
    assert spec["inputSchema"] == {"json": TOOLS[0]["function"]["parameters"]}
    assert body["toolConfig"]["toolChoice"] == {"any": {}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        (None, None),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    fields: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS}
    if choice is not None:
        fields["tool_choice"] = choice
    assert body_of(**fields)["toolConfig"].get("toolChoice") == expected


def test_tool_choice_none_leaves_the_tools_out() -> None:
    body = body_of(messages=[{"role": "user", "content": "x"}], tools=TOOLS, tool_choice="none")
    assert "toolConfig" not in body


def test_images_travel_as_bytes_and_other_forms_are_refused() -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    body = body_of(messages=[{"role": "user", "content": [{"type": "text", "text": "?"}, image]}])
    assert body["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": PNG}}
    }
    for url in ("data:image/bmp;base64,AAAA", "https://images.example/cat.png"):
        part = {"type": "image_url", "image_url": {"url": url}}
        with pytest.raises(Exception, match="Bedrock") as info:
            body_of(messages=[{"role": "user", "content": [part]}])
        assert getattr(info.value, "status", None) == 400


def test_json_schema_and_n_are_refused() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    hello = [{"role": "user", "content": "x"}]
    with pytest.raises(Exception, match="json_schema"):
        body_of(messages=hello, response_format=schema)
    with pytest.raises(Exception, match="n > 1"):
        body_of(messages=hello, n=2)
    assert "json" not in json.dumps(
        body_of(messages=hello, response_format={"type": "json_object"})
    )


def test_reasoning_is_claude_thinking_for_claude_models_only() -> None:
    hello = [{"role": "user", "content": "x"}]
    claude = body_of(messages=hello, reasoning_effort="low", upstream_id="eu.anthropic.claude-x")
    assert claude["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 2048}
    }
    assert claude["inferenceConfig"]["maxTokens"] > 2048
    llama = body_of(messages=hello, reasoning_effort="low", upstream_id="meta.llama3")
    assert "additionalModelRequestFields" not in llama


def test_the_model_id_is_one_encoded_path_segment() -> None:
    request = ChatRequest.model_validate(
        {"model": "t/m", "messages": [{"role": "user", "content": "x"}]}
    )
    arn = "arn:aws:bedrock:eu-west-1:123:inference-profile/eu.anthropic.claude-x-v1:0"
    call = SPEC.require_chat().build_chat(endpoint(arn), request)
    assert call.path == (
        "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123%3Ainference-profile%2F"
        "eu.anthropic.claude-x-v1%3A0/converse"
    )
    streamed = request.model_copy(update={"stream": True})
    call = SPEC.require_chat().build_chat(endpoint("a.b-v1:0"), streamed)
    assert call.path == "/model/a.b-v1%3A0/converse-stream"
    assert ("accept", "application/vnd.amazon.eventstream") in call.headers


def test_a_converse_answer_becomes_a_completion() -> None:
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "s"}}},
                    {"text": "it is "},
                    {"text": "sunny"},
                    {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 2, "cacheReadInputTokens": 4},
    }
    result = parse_converse(endpoint(), json.dumps(answer).encode())
    message = result["choices"][0]["message"]
    assert message["content"] == "it is sunny" and message["reasoning"] == "hm"
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"]["prompt_tokens"] == 9
    assert result["usage"]["prompt_tokens_details"] == {"cached_tokens": 4}


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(stop: str, finish: str) -> None:
    answer = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": stop}
    result = parse_converse(endpoint(), json.dumps(answer).encode())
    assert result["choices"][0]["finish_reason"] == finish


# ---------------------------------------------------------------- errors


def aws_type(name: str) -> dict[str, str]:
    return {"x-amzn-errortype": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "code"),
    [
        (
            429,
            aws_type("ThrottlingException"),
            b"{}",
            ErrorKind.RATE_LIMITED,
            "ThrottlingException",
        ),
        (
            403,
            aws_type("AccessDeniedException"),
            b"{}",
            ErrorKind.AUTH_FAILED,
            "AccessDeniedException",
        ),
        (
            403,
            {},
            b'{"__type": "com.amazon.coral.service#UnrecognizedClientException"}',
            ErrorKind.AUTH_FAILED,
            "UnrecognizedClientException",
        ),
        (
            400,
            aws_type("ExpiredTokenException"),
            b"{}",
            ErrorKind.AUTH_FAILED,
            "ExpiredTokenException",
        ),
        (400, aws_type("ValidationException"), b"{}", ErrorKind.BAD_REQUEST, "ValidationException"),
        (
            429,
            aws_type("ModelNotReadyException"),
            b"{}",
            ErrorKind.OVERLOADED,
            "ModelNotReadyException",
        ),
        (
            503,
            aws_type("ServiceUnavailableException"),
            b"{}",
            ErrorKind.OVERLOADED,
            "ServiceUnavailableException",
        ),
        (
            424,
            aws_type("ModelErrorException"),
            b"{}",
            ErrorKind.SERVER_ERROR,
            "ModelErrorException",
        ),
        (408, aws_type("ModelTimeoutException"), b"{}", ErrorKind.TIMEOUT, "ModelTimeoutException"),
        (
            404,
            aws_type("ResourceNotFoundException"),
            b"{}",
            ErrorKind.NOT_FOUND,
            "ResourceNotFoundException",
        ),
        (500, {}, b"not json", ErrorKind.SERVER_ERROR, None),
        (400, aws_type("IgnorePreviousInstructions"), b"{}", ErrorKind.BAD_REQUEST, None),
    ],
)
def test_the_classifier(
    status: int, headers: dict[str, str], body: bytes, kind: ErrorKind, code: str | None
) -> None:
    info = SPEC.classify(status, headers, body)
    assert (info.kind, info.code, info.status) == (kind, code, status)


def test_a_model_not_ready_is_retried_shortly_and_a_validation_error_is_relayed() -> None:
    assert SPEC.classify(429, aws_type("ModelNotReadyException"), b"").retry_after == 1.0
    error = rejected(
        "b/m", SPEC.classify(400, aws_type("ValidationException"), b'{"message": "x"}')
    )
    assert error.status == 400 and error.code == "ValidationException"


# ---------------------------------------------------------------- through the gateway


@pytest.fixture
def bedrock() -> Iterator[FakeBedrock]:
    fake, server = start_fake_bedrock()
    yield fake
    server.stop()


def sigv4_provider(fake: FakeBedrock, models: list[str]) -> dict[str, Any]:
    conf = provider(fake.base_url, [chat_model(m, f"test/{m}") for m in models], protocol="bedrock")
    del conf["api_key"]
    return conf


def sdk(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.v1, api_key=gw.key, max_retries=0)


def test_sigv4_signed_calls_plain_streamed_and_tools(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"aws": sigv4_provider(bedrock, ["ok", "tools"])}, environ=AWS_ENV)
    with sdk(gw) as client:
        plain = client.chat.completions.create(
            model="test/ok", messages=[{"role": "user", "content": "hello"}]
        )
        assert plain.choices[0].message.content == "echo: hello"
        chunks = list(
            client.chat.completions.create(
                model="test/ok", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "one two three echo: hi"
        tools = client.chat.completions.create(
            model="test/tools", messages=[{"role": "user", "content": "x"}], tools=TOOLS
        )
        assert tools.choices[0].finish_reason == "tool_calls"
    assert [r.auth for r in bedrock.requests] == ["sigv4"] * 3
    sent = bedrock.requests[0].headers
    assert sent["x-amz-security-token"] == AWS_ENV["AWS_SESSION_TOKEN"]
    assert AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in json.dumps(sent)
    assert [r.path for r in bedrock.requests] == [
        "/model/ok/converse",
        "/model/ok/converse-stream",
        "/model/tools/converse",
    ]


def test_a_wrong_secret_is_an_auth_failure_and_no_body_is_relayed(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    environ = {**AWS_ENV, "AWS_SECRET_ACCESS_KEY": "wrong"}
    gw = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])}, environ=environ)
    body = {"model": "test/ok", "messages": [{"role": "user", "content": "secret words"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 502
    assert "upstream_auth_failed" in response.text and "secret words" not in response.text
    assert bedrock.requests == []  # the fake refused it before reading it as a request


def test_without_credentials_nothing_is_sent(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"aws": sigv4_provider(bedrock, ["ok"])})  # no AWS variables
    body = {"model": "test/ok", "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 404 and "no_credentials" in response.text
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to make it routable" in response.text
    assert bedrock.requests == []


def test_a_bedrock_api_key_goes_as_a_bearer_and_wins(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    conf = {**sigv4_provider(bedrock, ["ok"]), "api_key_env": "AWS_BEARER_TOKEN_BEDROCK"}
    environ = {**AWS_ENV, "AWS_BEARER_TOKEN_BEDROCK": "upstream-key"}
    gw = make_gateway({"aws": conf}, environ=environ)
    body = {"model": "test/ok", "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 200, response.text
    assert bedrock.requests[-1].auth == "bearer"
    forced = make_gateway({"aws": {**conf, "auth": "aws-sigv4"}}, environ=environ)
    response = httpx.post(forced.v1 + "/chat/completions", json=body, headers=forced.auth())
    assert response.status_code == 200 and bedrock.requests[-1].auth == "sigv4"


def test_images_are_sent_inline_and_urls_fetched_first(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    media, server = start_fake_media()
    try:
        _images_through(bedrock, media, make_gateway)
    finally:
        server.stop()


def _images_through(bedrock: FakeBedrock, media: FakeMedia, make_gateway: GatewayFactory) -> None:
    gw = make_gateway(
        {"aws": sigv4_provider(bedrock, ["image"])},
        environ=AWS_ENV,
        assets=AssetFetcher(LOOPBACK_RULES),
    )
    inline = f"data:image/png;base64,{PNG}"
    fetched = f"{media.origin}/assets/0.png"
    with sdk(gw) as client:
        for url in (inline, fetched):
            content: Any = [
                {"type": "text", "text": "what is it"},
                {"type": "image_url", "image_url": {"url": url}},
            ]
            result = client.chat.completions.create(
                model="test/image", messages=[{"role": "user", "content": content}]
            )
            assert (result.choices[0].message.content or "").startswith("images png:")
    assert result.choices[0].message.content != "images png:48"  # the fetched one
    assert media.asset_hits == 1


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("throttle-stream", "rate_limited"), ("badcrc", "protocol_error"), ("break", None)],
)
def test_a_stream_failing_after_it_started_ends_with_an_error(
    bedrock: FakeBedrock, make_gateway: GatewayFactory, mode: str, outcome: str | None
) -> None:
    gw = make_gateway({"aws": sigv4_provider(bedrock, [mode])}, environ=AWS_ENV)
    body = {"model": f"test/{mode}", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with httpx.stream("POST", gw.v1 + "/chat/completions", json=body, headers=gw.auth()) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    events = [json.loads(line[6:]) for line in lines if line != "data: [DONE]"]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "error" in events[-1]
    if outcome:
        assert outcome in json.dumps(events[-1])
    finishes = [e["choices"][0]["finish_reason"] for e in events if e.get("choices")]
    assert [f for f in finishes if f] == ["error"]  # never a "stop" the stream did not reach


def test_upstream_errors(bedrock: FakeBedrock, make_gateway: GatewayFactory) -> None:
    gw = make_gateway(
        {"aws": sigv4_provider(bedrock, ["fail429", "bad400", "fail503"])}, environ=AWS_ENV
    )
    with sdk(gw) as client:
        with pytest.raises(openai.APIStatusError) as info:
            client.chat.completions.create(
                model="test/bad400", messages=[{"role": "user", "content": "my prompt"}]
            )
        assert info.value.status_code == 400
        assert info.value.code == "ValidationException"
        assert "my prompt" not in info.value.response.text
        for model in ("test/fail429", "test/fail503"):
            with pytest.raises(openai.APIStatusError) as info:
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "my prompt"}]
                )
            assert info.value.status_code == 503  # overloaded or rate limited: try later
            assert "my prompt" not in info.value.response.text


def test_a_throttled_endpoint_falls_back(
    bedrock: FakeBedrock, make_gateway: GatewayFactory
) -> None:
    throttled = sigv4_provider(bedrock, [])
    throttled["models"] = [chat_model("fail429", "test/chat", price=0.1)]
    working = sigv4_provider(bedrock, [])
    working["models"] = [chat_model("ok", "test/chat", price=5.0)]
    gw = make_gateway({"cheap": throttled, "dear": working}, environ=AWS_ENV)
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 200, response.text
    assert response.headers["x-zdr-endpoint"] == "dear/ok"
