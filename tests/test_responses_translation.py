"""The Responses API's translations, without a network: inbound requests to canonical
chat requests, canonical chunks to the Responses event sequence (golden), and the
outbound protocol's events and response objects back to canonical chunks."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_translation_fuzz import FUZZ, decode_all, endpoint, json_value
from zdrgate.catalog.model import Protocol
from zdrgate.errors import InvalidRequest
from zdrgate.protocols import SPECS, ErrorKind, StreamProtocolError
from zdrgate.protocols.responses.inbound.events import ResponseEvents
from zdrgate.protocols.responses.inbound.models import ResponsesRequest
from zdrgate.protocols.responses.inbound.request import to_chat_request
from zdrgate.protocols.responses.request import request_body
from zdrgate.wire.chat import ChatRequest


def chat_of(**fields: Any) -> dict[str, Any]:
    raw = {"model": "a/m", "input": "hi", **fields}
    return to_chat_request(ResponsesRequest.model_validate(raw)).model_dump(
        exclude_none=True, by_alias=True
    )


def test_items_become_turns() -> None:
    chat = chat_of(
        instructions="be brief",
        input=[
            {"role": "developer", "content": "use tools"},
            {"role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
            {"role": "assistant", "content": [{"type": "output_text", "text": "let me see"}]},
            {"type": "function_call", "call_id": "c1", "name": "w", "arguments": '{"a":1}'},
            {"type": "function_call", "call_id": "c2", "name": "t", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "noon"}],
            },
        ],
    )
    messages = chat["messages"]
    assert [m["role"] for m in messages] == [
        "system", "developer", "user", "assistant", "tool", "tool",
    ]  # fmt: skip
    assistant = messages[3]
    assert assistant["content"] == "let me see"
    assert [c["id"] for c in assistant["tool_calls"]] == ["c1", "c2"]
    assert assistant["tool_calls"][0]["function"] == {"name": "w", "arguments": '{"a":1}'}
    assert messages[4] == {"role": "tool", "content": "sunny", "tool_call_id": "c1"}
    assert messages[5]["content"] == [{"type": "text", "text": "noon"}]


def test_fields_map_to_chat_fields() -> None:
    schema = {"type": "object", "properties": {}}
    chat = chat_of(
        max_output_tokens=50,
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "r", "schema": schema}, "verbosity": "low"},
        tools=[{"type": "function", "name": "f", "parameters": schema, "strict": True}],
        tool_choice={"type": "function", "name": "f"},
        parallel_tool_calls=False,
        input=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_image",
                        "image_url": "https://x.example/a.png",
                        "detail": "high",
                    },
                    {
                        "type": "input_file",
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,AA==",
                    },
                ],
            }
        ],
    )
    assert chat["max_completion_tokens"] == 50 and chat["reasoning_effort"] == "high"
    assert chat["verbosity"] == "low" and chat["parallel_tool_calls"] is False
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": schema},
    }
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": schema, "strict": True}}
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    image, file = chat["messages"][0]["content"]
    assert image == {
        "type": "image_url",
        "image_url": {"url": "https://x.example/a.png", "detail": "high"},
    }
    assert file["file"]["filename"] == "a.pdf"


def test_allowed_tools_narrow_the_tools() -> None:
    tools = [{"type": "function", "name": n, "parameters": {}} for n in ("a", "b", "c")]
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "b"}],
    }
    chat = chat_of(tools=tools, tool_choice=choice)
    assert [t["function"]["name"] for t in chat["tools"]] == ["b"]
    assert chat["tool_choice"] == "required"


def test_an_unknown_type_is_not_quoted_back() -> None:
    with pytest.raises(InvalidRequest) as info:
        chat_of(input=[{"type": "SECRET-canary", "x": 1}])
    assert "SECRET" not in info.value.message and info.value.code == "unsupported_item_type"
    with pytest.raises(InvalidRequest) as info:
        chat_of(tools=[{"type": "SECRET-canary"}])
    assert "SECRET" not in info.value.message and info.value.code == "unsupported_tool_type"


def events_of(out: list[bytes]) -> list[dict[str, Any]]:
    found = []
    for raw in out:
        name, data = raw.split(b"\n", 1)
        event = json.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + event["type"].encode()  # the SSE name is the type
        found.append(event)
    return found


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-1", "model": "a/served", "choices": [choice], **extra}


def test_event_rendering_golden() -> None:
    render = ResponseEvents(ResponsesRequest(model="a/m", input="hi", max_output_tokens=9))
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
        chunk({}, "length"),
        {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}},
    ]:
        out += render.chunk(c)
    out += render.done()
    events = events_of(out)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [
        0, 1, 2,
    ]  # fmt: skip
    final = events[-1]["response"]
    assert final["status"] == "incomplete" and final["model"] == "a/served"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["store"] is False and final["max_output_tokens"] == 9
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][1]["content"][0]["text"] == "Hi there"
    assert final["output"][2]["arguments"] == '{"a": 1}' and final["output"][2]["call_id"] == "c1"
    assert final["usage"]["input_tokens"] == 9 and final["usage"]["total_tokens"] == 13
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1
    assert render.chunk(chunk({"content": "late"})) == [] and render.done() == []


def test_a_failure_ends_with_error_then_response_failed() -> None:
    render = ResponseEvents(ResponsesRequest(model="a/m", input="hi"))
    out = render.chunk(chunk({"content": "Hi"}))
    out += render.error(502, "upstream broke", "timeout")
    events = events_of(out)
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert events[-2]["code"] == "timeout" and events[-2]["message"] == "upstream broke"
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    assert failed["output"][0]["status"] == "incomplete"
    assert render.done() == [] and render.error(502, "again") == []


# --- the outbound protocol ---------------------------------------------------------


def test_outbound_body_is_stateless() -> None:
    request = ChatRequest.model_validate(
        {
            "model": "a/m",
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "w", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            "reasoning_effort": "low",
            "store": True,
            "user": "u",
        }
    )
    body = request_body(endpoint(Protocol.RESPONSES), request)
    assert body["store"] is False and body["reasoning"] == {"effort": "low"}
    assert body["input"] == [
        {"type": "message", "role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    assert "user" not in body and "previous_response_id" not in body


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def decode(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = SPECS[Protocol.RESPONSES]
    request = ChatRequest(model="a/m", messages=[{"role": "user", "content": "x"}])
    decoder = spec.require_stream().stream_decoder(endpoint(Protocol.RESPONSES), request)
    data = b"".join(sse(e) for e in events)
    chunks = [c for cut in range(0, len(data), 7) for c in decoder.feed(data[cut : cut + 7])]
    return chunks + decoder.finish()


def test_outbound_arguments_given_only_whole_are_not_lost() -> None:
    item = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": ""}
    chunks = decode(
        [
            {"type": "response.created", "response": {"id": "resp_1"}},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {
                "type": "response.function_call_arguments.done",
                "output_index": 0,
                "item_id": "fc_1",
                "arguments": '{"a": 1}',
            },
            {"type": "response.completed", "response": {"status": "completed", "usage": None}},
        ]
    )
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in chunks if c["choices"]]
    arguments = "".join(t[0]["function"]["arguments"] for t in calls if t)
    assert arguments == '{"a": 1}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("last", "kind"),
    [
        (
            {"type": "response.failed", "response": {"error": {"code": "server_error"}}},
            ErrorKind.SERVER_ERROR,
        ),
        ({"type": "error", "code": "rate_limit_exceeded", "message": "x"}, ErrorKind.RATE_LIMITED),
        (
            {"type": "response.output_text.delta", "delta": "cut", "output_index": 0},
            ErrorKind.PROTOCOL_ERROR,
        ),
    ],
)
def test_outbound_streams_never_end_silently(last: dict[str, Any], kind: ErrorKind) -> None:
    with pytest.raises(StreamProtocolError) as info:
        decode([{"type": "response.created", "response": {"id": "r"}}, last])
    assert info.value.kind is kind


responses_event = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "response.created",
                    "response.output_item.added",
                    "response.output_text.delta",
                    "response.reasoning_text.delta",
                    "response.function_call_arguments.delta",
                    "response.function_call_arguments.done",
                    "response.completed",
                    "response.incomplete",
                    "response.failed",
                    "error",
                ]
            )
        },
        optional={
            "output_index": st.integers(0, 2) | json_value,
            "delta": json_value,
            "arguments": json_value,
            "item": st.fixed_dictionaries(
                {"type": st.sampled_from(["function_call", "message"])},
                optional={"call_id": json_value, "name": json_value},
            )
            | json_value,
            "response": json_value,
        },
    )
    | json_value
)


@FUZZ
@given(events=st.lists(responses_event, max_size=8))
def test_decoding_any_responses_stream_raises_only_protocol_errors(events: list[Any]) -> None:
    data = b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)
    decode_all(Protocol.RESPONSES, data)


def test_a_refusal_streams_as_refusal_events() -> None:
    render = ResponseEvents(ResponsesRequest(model="a/m", input="hi"))
    out = render.chunk(chunk({"refusal": "I can't"})) + render.chunk(chunk({"refusal": " help"}))
    out += render.chunk(chunk({}, "stop")) + render.done()
    events = events_of(out)
    assert [e["type"] for e in events][2:] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[6]["refusal"] == "I can't help"
    message = events[-1]["response"]["output"][0]
    assert message["content"] == [{"type": "refusal", "refusal": "I can't help"}]


def test_outbound_refusal_comes_back_as_the_refusal_field() -> None:
    part = {"type": "refusal", "refusal": "no"}
    body = {"id": "r", "status": "completed", "output": [{"type": "message", "content": [part]}]}
    completion = SPECS[Protocol.RESPONSES].require_chat().parse_chat(
        endpoint(Protocol.RESPONSES), orjson.dumps(body)
    )
    assert completion["choices"][0]["message"]["refusal"] == "no"
