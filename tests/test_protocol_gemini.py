"""Golden tests of the Gemini adapter: request, schema cleaning, response, stream,
errors; and, through a running gateway, that the key never appears in a URL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, chat_model, provider
from fake_gemini import FakeGemini, start_fake_gemini
from unit.test_policy_engine import endpoint as base_endpoint
from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.errors import InvalidRequest
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError
from zdrgate.protocols.gemini.chat import GeminiChat
from zdrgate.protocols.gemini.errors import classify
from zdrgate.protocols.gemini.media import GeminiEmbeddings, GeminiImages
from zdrgate.protocols.gemini.schema import gemini_schema
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest

CODEC = GeminiChat()
PNG = "data:image/png;base64,iVBORw0KGgo="
HI = [{"role": "user", "content": "hi"}]


def endpoint(upstream_id: str = "gemini-x") -> Endpoint:
    ep = base_endpoint()
    gemini = dataclasses.replace(ep.provider, protocol=Protocol.GEMINI)
    return dataclasses.replace(ep, provider=gemini, upstream_id=upstream_id)


def build(**fields: Any) -> dict[str, Any]:
    fields.setdefault("messages", HI)
    body: dict[str, Any] = json.loads(
        CODEC.build_chat(endpoint(), ChatRequest(model="a/m", **fields)).body
    )
    return body


def test_paths() -> None:
    plain = ChatRequest(model="a/m", messages=HI)
    streamed = ChatRequest(model="a/m", messages=HI, stream=True)
    assert CODEC.build_chat(endpoint(), plain).path == "/models/gemini-x:generateContent"
    assert (
        CODEC.build_chat(endpoint("models/gemini-x"), streamed).path
        == "/models/gemini-x:streamGenerateContent?alt=sse"
    )
    odd = CODEC.build_chat(endpoint("a b?key=1"), plain).path
    assert "?" not in odd and " " not in odd


@pytest.mark.parametrize("odd", ["a b?key=1", "x/../../files", "m#frag", "m%2e"])
def test_image_and_embedding_paths_quote_the_model_id_like_chat(odd: str) -> None:
    """An upstream id from config must not add a query, a fragment or path segments
    on any route (it did on images and embeddings: issue 11, item 9)."""
    images = GeminiImages().build_images(endpoint(odd), ImageRequest(model="a/m", prompt="p"))
    embeddings = GeminiEmbeddings().build_embeddings(
        endpoint(odd), EmbeddingRequest(model="a/m", input="x")
    )
    chat = CODEC.build_chat(endpoint(odd), ChatRequest(model="a/m", messages=HI)).path
    model = chat.removesuffix(":generateContent")
    assert images.path == f"{model}:generateContent"
    assert embeddings.path == f"{model}:batchEmbedContents"
    for path in (images.path, embeddings.path):
        assert path.count("/") == 2 and not {"?", "#", " "} & set(path)


def test_request_golden() -> None:
    body = build(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "look"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "at this"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "c2", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c2", "content": "plain text"},
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": ""},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "f",
                    "description": "F",
                    "parameters": {
                        "type": "object",
                        "properties": {"a": {"type": "integer"}},
                        "required": ["a"],
                        "additionalProperties": False,
                    },
                },
            },
            {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}},
        ],
        tool_choice={"type": "function", "function": {"name": "f"}},
        temperature=1.5,
        top_p=0.9,
        top_k=40,
        max_tokens=100,
        stop=["END"],
        n=2,
        seed=7,
        user="alice",
        metadata={"k": "v"},
    )
    assert body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "look"},
                    {"text": "at this"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "f", "args": {"a": 1}},
                        "thoughtSignature": "skip_thought_signature_validator",
                    },
                    {"functionCall": {"name": "g", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "g", "response": {"result": "plain text"}}},
                    {"functionResponse": {"name": "f", "response": {"temp": 21}}},
                ],
            },
            {"role": "model", "parts": [{"text": "done"}]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "description": "F",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"a": {"type": "INTEGER"}},
                            "required": ["a"],
                        },
                    },
                    {"name": "g"},
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        "generationConfig": {
            "temperature": 1.5,
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 100,
            "candidateCount": 2,
            "seed": 7,
            "stopSequences": ["END"],
        },
    }


@pytest.mark.parametrize(
    ("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY"), (None, "AUTO")]
)
def test_tool_choice(choice: str | None, mode: str) -> None:
    body = build(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_an_image_url_must_be_a_data_url() -> None:
    url = "https://x.test/cat.png"
    with pytest.raises(InvalidRequest) as info:
        build(
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ]
        )
    assert "data URL" in info.value.message and url not in info.value.message


def test_a_tool_message_must_answer_an_earlier_call() -> None:
    with pytest.raises(InvalidRequest):
        build(messages=[*HI, {"role": "tool", "tool_call_id": "nope", "content": "x"}])


def test_response_format() -> None:
    assert build(response_format={"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": ["string", "null"], "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "kind": {"const": "cat"},
            "pet": {"$ref": "#/$defs/Pet"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "either": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        },
        "required": ["name", "ghost"],
        "$defs": {"Pet": {"type": "object", "properties": {"age": {"type": "number"}}}},
    }
    config = build(
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    )["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "OBJECT",
        "properties": {
            "name": {"type": "STRING", "nullable": True},
            "when": {"type": "STRING", "format": "date-time"},
            "kind": {"type": "STRING", "format": "enum", "enum": ["cat"]},
            "pet": {"type": "OBJECT", "properties": {"age": {"type": "NUMBER"}}},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "either": {"anyOf": [{"type": "INTEGER"}, {"type": "BOOLEAN"}]},
        },
        "required": ["name"],
    }


def test_recursive_schema_is_a_400_not_a_crash() -> None:
    schema = {
        "$ref": "#/$defs/N",
        "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}},
    }
    with pytest.raises(InvalidRequest):
        gemini_schema(schema, "tools")


@pytest.mark.parametrize(
    ("fields", "thinking"),
    [
        ({"reasoning_effort": "low"}, {"thinkingBudget": 2048, "includeThoughts": True}),
        ({"reasoning": {"max_tokens": 500}}, {"thinkingBudget": 500, "includeThoughts": True}),
        (
            {"reasoning": {"effort": "high", "exclude": True}},
            {"thinkingBudget": 16384, "includeThoughts": False},
        ),
        ({"reasoning_effort": "none"}, {"thinkingBudget": 0}),
        ({}, None),
    ],
)
def test_thinking_config(fields: dict[str, Any], thinking: dict[str, Any] | None) -> None:
    assert build(**fields).get("generationConfig", {}).get("thinkingConfig") == thinking


def response(candidates: list[dict[str, Any]], **extra: Any) -> bytes:
    usage = {
        "promptTokenCount": 10,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 3,
        "cachedContentTokenCount": 6,
        "totalTokenCount": 17,
    }
    return json.dumps(
        {"candidates": candidates, "usageMetadata": usage, "responseId": "r1", **extra}
    ).encode()


def candidate(parts: list[dict[str, Any]], finish: str = "STOP", index: int = 0) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": index}


CALLS = [
    {"functionCall": {"name": "f", "args": {"x": "é"}}, "thoughtSignature": "sig"},
    {"functionCall": {"name": "f", "args": {}}},
]


def test_response_golden() -> None:
    parts = [{"text": "thinking...", "thought": True}, {"text": "a"}, {"text": "b"}, *CALLS]
    result = CODEC.parse_chat(endpoint(), response([candidate(parts)]))
    assert result["object"] == "chat.completion" and result["model"] == "a/m"
    message = result["choices"][0]["message"]
    assert message["content"] == "ab" and message["reasoning"] == "thinking..."
    calls = message["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("f", {"x": "é"}),
        ("f", {}),
    ]
    ids = [c["id"] for c in calls]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)
    again = CODEC.parse_chat(endpoint(), response([candidate(parts)]))
    assert [c["id"] for c in again["choices"][0]["message"]["tool_calls"]] == ids  # stable
    assert result["choices"][0]["finish_reason"] == "tool_calls"
    assert result["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(finish: str, expected: str) -> None:
    result = CODEC.parse_chat(endpoint(), response([candidate([{"text": "x"}], finish)]))
    assert result["choices"][0]["finish_reason"] == expected


def test_a_candidate_without_content_and_several_candidates() -> None:
    body = response([{"finishReason": "SAFETY", "index": 0}, candidate([{"text": "y"}], index=1)])
    choices = CODEC.parse_chat(endpoint(), body)["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "", "content_filter"),
        (1, "y", "stop"),
    ]


def test_a_blocked_prompt_is_a_content_filter_response() -> None:
    body = json.dumps({"promptFeedback": {"blockReason": "SAFETY"}}).encode()
    result = CODEC.parse_chat(endpoint(), body)
    assert result["choices"][0]["finish_reason"] == "content_filter"
    assert result["choices"][0]["message"]["content"] == ""


@pytest.mark.parametrize(
    "body", [b"nope", b"{}", b'{"candidates": []}', b'{"error": {"code": 500}}']
)
def test_malformed_responses_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(StreamProtocolError):
        CODEC.parse_chat(endpoint(), body)


def events(pieces: list[dict[str, Any]], finish: str | None = "STOP") -> bytes:
    out = []
    for n, part in enumerate(pieces):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        if finish and n == len(pieces) - 1:
            cand["finishReason"] = finish
        usage = {"promptTokenCount": 5, "candidatesTokenCount": n + 1}
        chunk = {"candidates": [cand], "usageMetadata": usage, "responseId": "r2"}
        out.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\r\n\r\n")
    return b"".join(out)


def decode(data: bytes, step: int | None = None) -> list[dict[str, Any]]:
    decoder = CODEC.stream_decoder(endpoint(), ChatRequest(model="a/m", messages=HI))
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    return [c for p in pieces for c in decoder.feed(p)] + decoder.finish()


STREAM = [{"text": "why", "thought": True}, {"text": "Grüße "}, {"text": "😀"}, *CALLS]


def test_stream_golden() -> None:
    chunks = decode(events(STREAM))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[:4] == [
        {"role": "assistant", "content": ""},
        {"reasoning": "why"},
        {"content": "Grüße "},
        {"content": "😀"},
    ]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [(c["index"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (0, "f", '{"x":"é"}'),
        (1, "f", "{}"),
    ]
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 5


def test_stream_split_at_every_byte_gives_the_same_chunks() -> None:
    data = events(STREAM)
    whole = [c["choices"] for c in decode(data)]
    assert [c["choices"] for c in decode(data, step=1)] == whole


def test_stream_without_a_finish_reason_is_an_error() -> None:
    with pytest.raises(StreamProtocolError):
        decode(events(STREAM, finish=None))


def test_error_object_mid_stream_raises() -> None:
    error = b'data: {"error": {"code": 503, "message": "secret", "status": "UNAVAILABLE"}}\r\n\r\n'
    with pytest.raises(StreamProtocolError) as info:
        decode(events(STREAM[:2], finish=None) + error)
    assert info.value.kind is ErrorKind.OVERLOADED and "secret" not in str(info.value)


def test_a_blocked_prompt_streams_a_content_filter_finish() -> None:
    data = b'data: {"promptFeedback": {"blockReason": "SAFETY"}}\r\n\r\n'
    chunks = decode(data)
    assert chunks[-1]["choices"][0]["finish_reason"] == "content_filter"


def google_error(status: int, name: str, details: list[dict[str, Any]] | None = None) -> bytes:
    error = {"code": status, "message": "about your prompt: secret", "status": name}
    return json.dumps({"error": {**error, "details": details or []}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "kind", "retry"),
    [
        (
            429,
            google_error(429, "RESOURCE_EXHAUSTED", [{"@type": "x.RetryInfo", "retryDelay": "7s"}]),
            ErrorKind.RATE_LIMITED,
            7.0,
        ),
        (503, google_error(503, "UNAVAILABLE"), ErrorKind.OVERLOADED, None),
        (
            400,
            google_error(400, "INVALID_ARGUMENT", [{"reason": "API_KEY_INVALID"}]),
            ErrorKind.AUTH_FAILED,
            None,
        ),
        (400, google_error(400, "INVALID_ARGUMENT"), ErrorKind.BAD_REQUEST, None),
        (500, b"<html>oops</html>", ErrorKind.SERVER_ERROR, None),
    ],
)
def test_classify_error(status: int, body: bytes, kind: ErrorKind, retry: float | None) -> None:
    info = classify(status, {}, body)
    assert info.kind is kind and info.retry_after == retry
    assert "secret" not in repr(info)


# --- through a running gateway -------------------------------------------------------

KEY = "AIzaSECRET-gemini-key-0123456789"


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    fake, server = start_fake_gemini()
    yield fake
    server.stop()


def gemini(fake: FakeGemini, *modes: str) -> dict[str, Any]:
    models = [chat_model(m, f"test/{m}") for m in modes]
    return provider(fake.base_url, models, key=KEY, protocol="gemini")


def chat(gw: Any, model: str, **fields: Any) -> httpx.Response:
    fields.setdefault("messages", [{"role": "user", "content": "secret prompt"}])
    body = {"model": model, **fields}
    return httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth(), timeout=10)


def test_the_key_is_never_in_a_url(fake: FakeGemini, make_gateway: GatewayFactory) -> None:
    modes = ("ok", "tools", "fail429", "badkey", "nostop", "bad400")
    gw = make_gateway({"g": gemini(fake, *modes)})
    for mode in modes:
        chat(gw, f"test/{mode}")
        chat(gw, f"test/{mode}", stream=True)
    assert len(fake.requests) == 2 * len(modes)
    for sent in fake.requests:
        assert KEY not in sent.url and "key=" not in sent.url
        assert sent.headers["x-goog-api-key"] == KEY
        assert "Authorization" not in sent.headers
    streamed = [r.url for r in fake.requests if "stream" in r.url]
    assert streamed and all(u.endswith(":streamGenerateContent?alt=sse") for u in streamed)


@pytest.mark.parametrize("field", ["cachedContent", "cached_content"])
def test_cached_content_is_refused_before_anything_is_sent(
    fake: FakeGemini, make_gateway: GatewayFactory, field: str
) -> None:
    """Gemini cached contents store the prompt at Google: refused as a storage
    feature, naming the field, and nothing reaches the adapter."""
    gw = make_gateway({"g": gemini(fake, "ok")})
    response = chat(gw, "test/ok", **{field: "cachedContents/abc"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == field
    assert response.json()["error"]["code"] == "storage_feature_refused"
    assert fake.requests == []


def test_an_unfetchable_image_url_is_a_400_and_nothing_is_sent(
    fake: FakeGemini, make_gateway: GatewayFactory
) -> None:
    """Gemini needs image bytes inline; an image URL the gateway may not fetch (here a
    loopback address) is refused before anything is sent."""
    gw = make_gateway({"g": gemini(fake, "ok")})
    image = {"type": "image_url", "image_url": {"url": "https://127.0.0.1/cat.png"}}
    response = chat(gw, "test/ok", messages=[{"role": "user", "content": [image]}])
    assert response.status_code == 400
    assert "data URL" in response.json()["error"]["message"]
    assert fake.requests == []


def test_blocked_prompt_through_the_gateway(fake: FakeGemini, make_gateway: GatewayFactory) -> None:
    gw = make_gateway({"g": gemini(fake, "blocked", "safety")})
    for model in ("test/blocked", "test/safety"):
        assert chat(gw, model).json()["choices"][0]["finish_reason"] == "content_filter"
        lines = chat(gw, model, stream=True).text.splitlines()
        chunks = [json.loads(x[6:]) for x in lines if x.startswith("data: {")]
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][
            -1
        ] == "content_filter"


@pytest.mark.parametrize("failing", ["fail429", "fail503", "badkey"])
def test_retryable_errors_fall_back(
    fake: FakeGemini, make_gateway: GatewayFactory, failing: str
) -> None:
    first = provider(fake.base_url, [chat_model(failing, price=0.1)], protocol="gemini")
    second = provider(fake.base_url, [chat_model("ok", price=5.0)], protocol="gemini")
    gw = make_gateway({"first": first, "second": second})
    response = chat(gw, "test/chat", provider={"sort": "price"})
    assert response.status_code == 200 and response.headers["x-zdr-endpoint"] == "second/ok"


@pytest.mark.parametrize("mode", ["nostop", "break"])
def test_a_stream_that_breaks_off_ends_with_an_error_chunk(
    fake: FakeGemini, make_gateway: GatewayFactory, mode: str
) -> None:
    gw = make_gateway({"g": gemini(fake, mode)})
    response = chat(gw, f"test/{mode}", stream=True)
    assert response.status_code == 200
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "error"
    assert "one " in response.text  # what had arrived was passed on first
