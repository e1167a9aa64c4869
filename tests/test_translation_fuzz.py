"""Fuzzed translation: whatever a client sends, translating it raises nothing but the
gateway's own 4xx errors; whatever an upstream answers, decoding it raises nothing but
``StreamProtocolError``; and translations that can round-trip do."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from unit.test_policy_engine import endpoint as base_endpoint
from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.errors import GatewayError
from zdrgate.protocols import SPECS
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.anthropic.inbound.render import MessageEvents, to_message
from zdrgate.protocols.anthropic.inbound.request import to_chat_request
from zdrgate.protocols.errors import StreamProtocolError
from zdrgate.server.parsing import parse_body
from zdrgate.wire.chat import ChatRequest

CODECS = {protocol: spec.chat for protocol, spec in SPECS.items() if spec.chat is not None}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def endpoint(protocol: Protocol) -> Endpoint:
    ep = base_endpoint()
    return dataclasses.replace(ep, provider=dataclasses.replace(ep.provider, protocol=protocol))


def client_error(exc: BaseException) -> bool:
    return isinstance(exc, GatewayError) and exc.status < 500


# --- strategies --------------------------------------------------------------------

text = st.text(max_size=12)
ident = st.text(alphabet="abcdefgh_0123456789", min_size=1, max_size=6)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
schema = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "string", "integer", "array", "null", "bogus"])
            | st.lists(st.sampled_from(["string", "null", "number"]), max_size=3),
            "format": st.sampled_from(["enum", "date-time", "email", "int64"]),
            "enum": st.lists(json_leaf, max_size=3),
            "const": json_leaf,
            "additionalProperties": st.booleans(),
            "$ref": st.sampled_from(["#/$defs/A", "#/definitions/B", "#/nope", "http://x"]),
            "required": st.lists(text | st.integers(-100, 100), max_size=3),
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(text, inner, max_size=3),
            "items": inner,
            "anyOf": st.lists(inner, max_size=2),
            "allOf": st.lists(inner, max_size=2),
            "$defs": st.fixed_dictionaries({"A": inner}),
            "definitions": st.fixed_dictionaries({"B": inner}),
        },
    ),
    max_leaves=10,
)
url = st.sampled_from(
    ["data:image/png;base64,AAAA", "https://x.test/a.png", "http://x", "data:,x", "ftp://x"]
)
part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    st.fixed_dictionaries(
        {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": url})}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("input_audio"),
            "input_audio": st.fixed_dictionaries({"data": text, "format": text}),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("file"),
            "file": st.fixed_dictionaries(
                {}, optional={"file_data": url | st.just("data:application/pdf;base64,JVBE")}
            ),
        }
    ),
)
content = st.none() | text | st.lists(part, max_size=3)
tool_call = st.fixed_dictionaries(
    {
        "id": ident,
        "function": st.fixed_dictionaries(
            {"name": ident, "arguments": st.sampled_from(["", "{}", '{"a": 1}', "[1]", "{"])}
        ),
    }
)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"])},
    optional={
        "content": content,
        "tool_calls": st.lists(tool_call, max_size=2),
        "tool_call_id": ident,
        "reasoning": text,
    },
)
tool = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": ident}, optional={"parameters": schema}),
    }
)
chat_request = st.fixed_dictionaries(
    {"model": st.just("a/m"), "messages": st.lists(message, min_size=1, max_size=5)},
    optional={
        "stream": st.booleans(),
        "tools": st.lists(tool, max_size=2),
        "tool_choice": st.sampled_from(["auto", "none", "required"])
        | st.fixed_dictionaries(
            {"type": st.just("function"), "function": st.fixed_dictionaries({"name": ident})}
        ),
        "parallel_tool_calls": st.booleans(),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "top_k": st.integers(0, 100),
        "max_tokens": st.integers(1, 50000),
        "n": st.integers(1, 3),
        "stop": text | st.lists(text, max_size=3),
        "reasoning_effort": st.sampled_from(["minimal", "low", "medium", "high", "xhigh", "none"]),
        "reasoning": st.fixed_dictionaries(
            {},
            optional={
                "max_tokens": st.integers(0, 40000),
                "enabled": st.booleans(),
                "exclude": st.booleans(),
            },
        ),
        "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}])
        | st.builds(
            lambda s: {"type": "json_schema", "json_schema": {"name": "x", "schema": s}}, schema
        ),
    },
)


# --- client -> upstream ------------------------------------------------------------


@FUZZ
@given(raw=chat_request)
def test_building_an_upstream_request_raises_only_client_errors(raw: dict[str, Any]) -> None:
    try:
        request = ChatRequest.model_validate(raw)
    except ValidationError:
        return  # the route answers these with a 400 (tested elsewhere)
    for protocol, adapter in CODECS.items():
        try:
            call = adapter.build_chat(endpoint(protocol), request)
        except Exception as exc:
            assert client_error(exc), f"{protocol}: {type(exc).__name__}: {exc}"
            continue
        assert isinstance(json.loads(call.body), dict)
        assert call.path.startswith("/") and "key=" not in call.path


block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": text}),
    st.fixed_dictionaries(
        {
            "type": st.just("image"),
            "source": st.sampled_from(
                [
                    {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    {"type": "url", "url": "https://x.test/a.png"},
                ]
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": ident,
            "name": ident,
            "input": st.dictionaries(text, json_value, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("tool_result"), "tool_use_id": ident},
        optional={
            "content": text
            | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}), max_size=2)
        },
    ),
    st.fixed_dictionaries({"type": st.just("thinking"), "thinking": text, "signature": text}),
    st.fixed_dictionaries(
        {
            "type": st.just("document"),
            "source": st.sampled_from(
                [
                    {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                    {"type": "text", "media_type": "text/plain", "data": "doc"},
                    {"type": "url", "url": "https://x.test/a.pdf"},
                ]
            ),
        }
    ),
)
anthropic_request = st.fixed_dictionaries(
    {
        "model": st.just("a/m"),
        "max_tokens": st.integers(1, 50000),
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant"]),
                    "content": text | st.lists(block, max_size=3),
                }
            ),
            min_size=1,
            max_size=4,
        ),
    },
    optional={
        "system": text
        | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": text}), max_size=2),
        "stream": st.booleans(),
        "stop_sequences": st.lists(text, max_size=2),
        "temperature": st.floats(0, 1),
        "tools": st.lists(
            st.fixed_dictionaries(
                {"name": ident, "input_schema": schema}, optional={"description": text}
            ),
            max_size=2,
        ),
        "tool_choice": st.fixed_dictionaries(
            {"type": st.sampled_from(["auto", "any", "tool", "none"])},
            optional={"name": ident, "disable_parallel_tool_use": st.booleans()},
        ),
        "thinking": st.fixed_dictionaries(
            {"type": st.sampled_from(["enabled", "disabled", "adaptive"])},
            optional={"budget_tokens": st.integers(0, 40000)},
        ),
        "metadata": st.fixed_dictionaries({"user_id": text}),
    },
)


@FUZZ
@given(raw=anthropic_request)
def test_the_messages_api_translation_raises_only_client_errors(raw: dict[str, Any]) -> None:
    try:
        chat = to_chat_request(parse_body(MessagesRequest, orjson.dumps(raw)))
        for protocol, adapter in CODECS.items():
            try:
                adapter.build_chat(endpoint(protocol), chat)
            except GatewayError as exc:
                assert exc.status < 500
    except Exception as exc:
        assert client_error(exc), f"{type(exc).__name__}: {exc}"


@FUZZ
@given(
    turns=st.lists(st.text(min_size=1, max_size=20).filter(str.strip), min_size=1, max_size=6),
    system=text,
)
def test_anthropic_text_conversations_round_trip(turns: list[str], system: str) -> None:
    """Anthropic in -> canonical -> Anthropic out keeps every turn's text and role."""
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)
    ]
    raw = {"model": "a/m", "max_tokens": 10, "messages": messages, "system": system}
    chat = to_chat_request(MessagesRequest.model_validate(raw))
    call = SPECS[Protocol.ANTHROPIC].require_chat().build_chat(endpoint(Protocol.ANTHROPIC), chat)
    body = json.loads(call.body)
    assert body.get("system", "") == system
    sent = [(m["role"], "".join(b["text"] for b in m["content"])) for m in body["messages"]]
    assert sent == [(m["role"], m["content"]) for m in messages]


# --- upstream -> client ------------------------------------------------------------


@FUZZ
@given(body=json_value | st.binary(max_size=30))
def test_parsing_any_upstream_body_raises_only_protocol_errors(body: Any) -> None:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    for protocol, adapter in CODECS.items():
        with contextlib.suppress(StreamProtocolError):
            adapter.parse_chat(endpoint(protocol), data)
        info = SPECS[protocol].classify(500, {}, data)
        assert info.status == 500


anthropic_event = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("message_start"), "message": st.dictionaries(text, json_value)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("content_block_start"),
            "index": st.integers(0, 2) | text,
            "content_block": json_value,
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("content_block_delta"),
            "index": st.integers(0, 2),
            "delta": st.fixed_dictionaries(
                {
                    "type": st.sampled_from(
                        ["text_delta", "input_json_delta", "thinking_delta", "x"]
                    )
                },
                optional={"text": json_value, "partial_json": json_value, "thinking": json_value},
            ),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("message_delta")},
        optional={
            "delta": st.dictionaries(st.just("stop_reason"), json_value),
            "usage": json_value,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["message_stop", "ping", "error"])}, optional={"error": json_value}
    ),
    json_value,
)
gemini_event = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "candidates": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "content": st.fixed_dictionaries(
                            {},
                            optional={
                                "parts": st.lists(
                                    st.fixed_dictionaries(
                                        {},
                                        optional={
                                            "text": json_value,
                                            "thought": st.booleans(),
                                            "functionCall": json_value,
                                        },
                                    ),
                                    max_size=3,
                                )
                            },
                        ),
                        "finishReason": json_value,
                        "index": json_value,
                    },
                ),
                max_size=2,
            ),
            "usageMetadata": json_value,
            "promptFeedback": json_value,
            "error": json_value,
        },
    ),
    json_value,
)


def decode_all(protocol: Protocol, data: bytes) -> None:
    adapter = SPECS[protocol].require_stream()
    request = ChatRequest(model="a/m", messages=[{"role": "user", "content": "x"}])
    decoder = adapter.stream_decoder(endpoint(protocol), request)
    try:
        for cut in range(0, len(data), 11):
            decoder.feed(data[cut : cut + 11])
        decoder.finish()
    except StreamProtocolError:
        pass


@FUZZ
@given(events=st.lists(anthropic_event, max_size=8))
def test_decoding_any_anthropic_stream_raises_only_protocol_errors(events: list[Any]) -> None:
    data = b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
    decode_all(Protocol.ANTHROPIC, data)


@FUZZ
@given(events=st.lists(gemini_event, max_size=6))
def test_decoding_any_gemini_stream_raises_only_protocol_errors(events: list[Any]) -> None:
    data = b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events)
    decode_all(Protocol.GEMINI, data)


@FUZZ
@given(
    chunks=st.lists(
        json_value
        | st.dictionaries(st.sampled_from(["choices", "usage", "error", "id"]), json_value),
        max_size=6,
    )
)
def test_rendering_any_chunks_as_anthropic_events_never_raises(chunks: list[Any]) -> None:
    render = MessageEvents("a/m")
    for chunk in chunks:
        if isinstance(chunk, dict):
            try:
                render.chunk(chunk)
            except (AttributeError, TypeError) as exc:  # pragma: no cover - reported
                pytest.fail(f"{type(exc).__name__}")
    render.done()


@FUZZ
@given(
    texts=st.lists(st.text(max_size=10), max_size=3),
    inputs=st.lists(st.dictionaries(text, json_value, max_size=3), max_size=3),
    counts=st.tuples(*[st.integers(0, 10_000)] * 4),
)
def test_anthropic_responses_round_trip_through_the_canonical_form(
    texts: list[str], inputs: list[dict[str, Any]], counts: tuple[int, int, int, int]
) -> None:
    """Anthropic upstream -> canonical completion -> Anthropic client keeps the text,
    the tool inputs and the token totals."""
    content = [{"type": "text", "text": t} for t in texts]
    content += [
        {"type": "tool_use", "id": f"t{i}", "name": "f", "input": x} for i, x in enumerate(inputs)
    ]
    fresh, read, written, out = counts
    usage = {
        "input_tokens": fresh,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        "output_tokens": out,
    }
    body = orjson.dumps(
        {"id": "msg_1", "content": content, "stop_reason": "end_turn", "usage": usage}
    )
    codec = SPECS[Protocol.ANTHROPIC].require_chat()
    canonical = codec.parse_chat(endpoint(Protocol.ANTHROPIC), body)
    back = to_message(canonical)
    assert "".join(b["text"] for b in back["content"] if b["type"] == "text") == "".join(texts)
    assert [b["input"] for b in back["content"] if b["type"] == "tool_use"] == inputs
    total_in = back["usage"]["input_tokens"] + back["usage"]["cache_read_input_tokens"]
    assert (total_in, back["usage"]["output_tokens"]) == (fresh + read + written, out)


@pytest.mark.parametrize("protocol", [Protocol.ANTHROPIC, Protocol.GEMINI])
def test_an_integer_json_cannot_carry_is_a_400(protocol: Protocol) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 2**70}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    request = ChatRequest(model="a/m", messages=[{"role": "user", "content": "x"}], tools=tools)
    with pytest.raises(GatewayError) as info:
        SPECS[protocol].require_chat().build_chat(endpoint(protocol), request)
    assert info.value.status == 400
