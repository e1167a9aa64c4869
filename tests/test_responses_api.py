"""The official openai SDK's Responses API (``responses.create``, ``responses.stream``)
against ``/v1/responses``, for models on every protocol of the table."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_responses import PATCH, start_fake_responses
from protocol_fakes import PARITY
from zdrgate.protocols.responses.inbound.models import ResponsesRequest
from zdrgate.protocols.responses.inbound.request import to_chat_request
from zdrgate.receipts import receipt_in_stream, verify_receipt

TOOLS: Any = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": False,
    }
]
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
        "0000000d4944415478da63f8cfc0f01f0005000201a5d1c8a40000000049454e44ae426082"
    )
).decode()


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0) as sdk:
        yield sdk


def _usage(usage: Any) -> tuple[int, int, int]:
    return (usage.input_tokens, usage.output_tokens, usage.total_tokens)


@pytest.mark.parametrize("protocol", PARITY)
def test_plain_response(client: openai.OpenAI, protocol: str) -> None:
    raw = client.responses.with_raw_response.create(model=f"test/{protocol}", input="hello")
    response = raw.parse()
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed" and response.error is None
    assert response.output_text == "echo: hello"
    assert [item.type for item in response.output] == ["message"]
    assert response.model == f"test/{protocol}"
    assert _usage(response.usage) == (11, 7, 18)
    assert raw.http_response.json()["store"] is False
    assert raw.headers["x-zdr-endpoint"] == f"zdr-{protocol}/ok"


@pytest.mark.parametrize("protocol", PARITY)
def test_instructions_and_message_items(client: openai.OpenAI, protocol: str) -> None:
    response = client.responses.create(
        model=f"test/{protocol}",
        instructions="be brief",
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "an answer"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
        temperature=0.5,
        top_p=0.9,
        max_output_tokens=100,
        metadata={"ticket": "t-1"},
    )
    assert response.output_text == "echo: hi"
    assert response.instructions == "be brief"
    assert response.max_output_tokens == 100 and response.temperature == 0.5
    assert response.metadata == {"ticket": "t-1"}


@pytest.mark.parametrize("protocol", PARITY)
def test_image_input(client: openai.OpenAI, protocol: str) -> None:
    content: Any = [
        {"type": "input_text", "text": "describe"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "low"},
    ]
    response = client.responses.create(
        model=f"test/{protocol}", input=[{"role": "user", "content": content}]
    )
    assert response.output_text.strip() == "echo: describe"  # the fakes join parts


@pytest.mark.parametrize("protocol", PARITY)
def test_function_calls(client: openai.OpenAI, protocol: str) -> None:
    response = client.responses.create(
        model=f"test/{protocol}-tools", input="hello", tools=TOOLS, tool_choice="auto"
    )
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert all(c.call_id and c.id and c.id.startswith("fc_") for c in calls)
    assert len({c.call_id for c in calls}) == 2
    assert response.status == "completed" and response.output_text == ""
    assert response.tools[0].type == "function" and response.tool_choice == "auto"


@pytest.mark.parametrize("protocol", PARITY)
def test_function_call_outputs_round_trip(client: openai.OpenAI, protocol: str) -> None:
    """The calls and their outputs sent back as items (stateless: the whole history)."""
    first = client.responses.create(model=f"test/{protocol}-tools", input="hello", tools=TOOLS)
    calls = [item for item in first.output if item.type == "function_call"]
    history: Any = [
        {"role": "user", "content": "hello"},
        *[c.model_dump(exclude_none=True) for c in calls],
        *[{"type": "function_call_output", "call_id": c.call_id, "output": "21"} for c in calls],
        {"role": "user", "content": "and so?"},
    ]
    second = client.responses.create(model=f"test/{protocol}", input=history, tools=TOOLS)
    assert second.output_text == "echo: and so?"


# Protocols that refuse a JSON schema (Bedrock caches compiled schemas for 24 hours).
REFUSES_JSON_SCHEMA = {"bedrock"}


@pytest.mark.parametrize("protocol", PARITY)
def test_json_schema_format(client: openai.OpenAI, protocol: str) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    fmt: Any = {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}
    assert (
        client.responses.create(
            model=f"test/{protocol}", input="hi", text={"format": {"type": "json_object"}}
        ).output_text
        == "echo: hi"
    )
    if protocol in REFUSES_JSON_SCHEMA:
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model=f"test/{protocol}", input="hello", text={"format": fmt})
        assert info.value.param == "response_format"
        return
    response = client.responses.create(
        model=f"test/{protocol}", input="hello", text={"format": fmt}
    )
    assert response.output_text == "echo: hello"
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_text(client: openai.OpenAI, protocol: str) -> None:
    with client.responses.stream(
        model=f"test/{protocol}", input="hi", instructions="be brief"
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[4 : 4 + len(deltas)] == ["response.output_text.delta"] * len(deltas)
    assert kinds[4 + len(deltas) :] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(d.delta for d in deltas) == "one two three echo: hi"
    assert final.output_text == "one two three echo: hi" and final.status == "completed"
    assert _usage(final.usage) == (11, 7, 18)
    assert len({e.response.id for e in events if hasattr(e, "response")}) == 1


@pytest.mark.parametrize("protocol", PARITY)
def test_streamed_function_calls(client: openai.OpenAI, protocol: str) -> None:
    with client.responses.stream(
        model=f"test/{protocol}-tools", input="hello", tools=TOOLS
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    arguments: dict[str, str] = {}
    for event in events:
        if event.type == "response.function_call_arguments.delta":
            arguments[event.item_id] = arguments.get(event.item_id, "") + event.delta
    done = {
        e.item_id: e.arguments for e in events if e.type == "response.function_call_arguments.done"
    }
    assert arguments == done and len(done) == 2
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments), c.id in done) for c in calls] == [
        ("get_weather", {"city": "Paris"}, True),
        ("get_time", {"tz": "CET"}, True),
    ]
    assert all(c.call_id for c in calls)


@pytest.mark.parametrize("protocol", PARITY)
def test_create_with_stream_true(client: openai.OpenAI, protocol: str) -> None:
    events = list(client.responses.create(model=f"test/{protocol}", input="hi", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "one two three echo: hi"
    assert completed.response.usage is not None


@pytest.mark.parametrize("protocol", ["anthropic", "gemini", "responses"])
def test_reasoning_comes_back_as_a_reasoning_item(client: openai.OpenAI, protocol: str) -> None:
    response = client.responses.create(
        model=f"test/{protocol}-think", input="hello", reasoning={"effort": "low"}
    )
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.content is not None
    assert reasoning.content[0].text == "let me think"
    assert response.output_text == "echo: hello"
    with client.responses.stream(
        model=f"test/{protocol}-think", input="hello", reasoning={"effort": "low"}
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    thought = "".join(
        getattr(e, "delta", "") for e in events if e.type == "response.reasoning_text.delta"
    )
    assert thought == "let me think"
    assert [item.type for item in final.output] == ["reasoning", "message"]


@pytest.mark.parametrize("protocol", PARITY)
def test_a_stream_that_breaks_fails_loudly(client: openai.OpenAI, protocol: str) -> None:
    with client.responses.stream(model=f"test/{protocol}-break", input="hello") as stream:
        events = list(stream)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[-2:] == ["error", "response.failed"]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error is not None
    assert "hello" not in failed.response.error.message  # no upstream body relayed
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_store_true_is_answered_as_not_stored(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model="test/openai", input="hello", store=True)
    assert raw.http_response.json()["store"] is False


def test_private_fields_are_not_forwarded() -> None:
    request = ResponsesRequest.model_validate(
        {
            "model": "a/m",
            "input": "hello",
            "store": True,
            "metadata": {"k": "v"},
            "user": "u-1",
            "safety_identifier": "s",
            "prompt_cache_key": "p",
            "include": ["reasoning.encrypted_content"],
        }
    )
    chat = to_chat_request(request).model_dump(exclude_none=True)
    assert chat["messages"] == [{"role": "user", "content": "hello"}]
    assert not {"store", "metadata", "user", "safety_identifier", "prompt_cache_key"} & set(chat)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"previous_response_id": "resp_123"}, "storage_feature_refused"),
        ({"conversation": "conv_123"}, "storage_feature_refused"),
        ({"background": True}, "storage_feature_refused"),
        ({"prompt": {"id": "pmpt_1"}}, "storage_feature_refused"),
        ({"tools": [{"type": "web_search"}]}, "hosted_tool_refused"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "hosted_tool_refused"),
        (
            {"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]},
            "hosted_tool_refused",
        ),
        ({"tool_choice": {"type": "web_search_preview"}}, "hosted_tool_refused"),
        ({"tools": [{"type": "namespace", "name": "x"}]}, "unsupported_tool_type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "storage_feature_refused"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "unsupported_item_type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "storage_feature_refused",
        ),
        ({"truncation": "auto"}, "unsupported_parameter"),
        ({"frobnicate": 1}, "unknown_parameter"),
        ({"max_output_tokens": 0}, "invalid_value"),
        ({"input": []}, "invalid_value"),
        ({"text": {"format": {"type": "json_schema"}}}, "missing_required_parameter"),
    ],
)
def test_refusals_are_clear_400s_in_the_openai_envelope(
    client: openai.OpenAI, extra: dict[str, Any], code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="test/openai", input="hello", extra_body=extra)
    assert info.value.status_code == 400
    assert info.value.code == code
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/responses/resp_1"),
        ("DELETE", "/responses/resp_1"),
        ("GET", "/responses/resp_1/input_items"),
        ("POST", "/responses/resp_1/cancel"),
    ],
)
def test_stored_response_routes_are_refused(
    gateway: RunningGateway, method: str, path: str
) -> None:
    response = httpx.request(method, gateway.v1 + path, headers=gateway.auth())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_feature_refused"


def test_sdk_retrieve_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.retrieve("resp_1")
    assert info.value.code == "storage_feature_refused"


def test_errors_use_the_openai_envelope(gateway: RunningGateway, client: openai.OpenAI) -> None:
    response = httpx.post(gateway.v1 + "/responses", json={"model": "test/openai", "input": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope/nope", input="hello")
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model="test/openai-fail429", input="hello")
    assert info.value.status_code == 503
    assert "hello" not in info.value.response.text


def test_the_responses_protocol_sends_store_false_and_nothing_private(
    make_gateway: GatewayFactory,
) -> None:
    """Outbound over the Responses API: store false, the history as items, no
    identifying field, the function tools and the format translated."""
    fake, server = start_fake_responses()
    try:
        gw = make_gateway({"oa": provider(fake.base_url, [chat_model("ok")], protocol="responses")})
        body = {
            "model": "test/chat",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello"},
            ],
            "user": "u-1",
            "metadata": {"k": "v"},
            "store": True,
            "max_tokens": 50,
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
            "response_format": {"type": "json_object"},
        }
        response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "echo: hello"
        sent = fake.requests[-1]
        assert sent.path == "/v1/responses"
        assert sent.headers["Authorization"] == "Bearer upstream-key"
        assert sent.body["store"] is False
        assert sent.body["input"] == [
            {"type": "message", "role": "system", "content": "be brief"},
            {"type": "message", "role": "user", "content": "hello"},
        ]
        assert sent.body["max_output_tokens"] == 50
        assert sent.body["text"] == {"format": {"type": "json_object"}}
        assert sent.body["tools"][0]["name"] == "get_weather"
        assert not {"user", "metadata", "safety_identifier", "messages"} & set(sent.body)
    finally:
        server.stop()


def test_chat_fields_the_responses_protocol_lacks_are_refused(gateway: RunningGateway) -> None:
    body = {"model": "test/responses", "messages": [{"role": "user", "content": "x"}]}
    response = httpx.post(
        gateway.v1 + "/chat/completions", json={**body, "stop": ["x"]}, headers=gateway.auth()
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_parameter"
    assert response.json()["error"]["param"] == "stop"


def test_a_slow_start_sends_keepalive_comments(
    three_fakes: dict[str, str], make_gateway: GatewayFactory
) -> None:
    hang = provider(three_fakes["openai"], [chat_model("hang")])
    gw = make_gateway({"slow": hang}, extra={"server": {"stream_keepalive_seconds": 0.05}})
    body = {"model": "test/chat", "input": "hello", "stream": True}
    with httpx.stream("POST", gw.v1 + "/responses", json=body, headers=gw.auth()) as response:
        assert response.status_code == 200
        first = next(response.iter_bytes())
    assert first.startswith(b": keep-alive\n\n")


def test_one_usage_row_per_request_as_for_chat(
    gateway: RunningGateway, client: openai.OpenAI
) -> None:
    client.responses.create(model="test/gemini", input="hello")
    with client.responses.stream(model="test/anthropic", input="hello") as stream:
        stream.get_final_response()
    deadline = time.monotonic() + 10
    rows = gateway.state.store.usage_rows()
    while len(rows) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = gateway.state.store.usage_rows()
    found = sorted(
        (r["model"], r["stream"], r["prompt_tokens"], r["completion_tokens"]) for r in rows
    )
    assert found == [("test/anthropic", True, 11, 7), ("test/gemini", False, 11, 7)]
    assert {r["route"] for r in rows} == {"chat.completions"}  # metered as chat


def test_a_late_start_carries_the_decision_as_a_comment_then_a_final_receipt(
    three_fakes: dict[str, str], make_gateway: GatewayFactory
) -> None:
    late = provider(three_fakes["openai"], [chat_model("late")])
    gw = make_gateway({"p": late}, extra={"server": {"stream_keepalive_seconds": 0.1}})
    body = {"model": "test/chat", "input": "hello", "stream": True}
    response = httpx.post(gw.v1 + "/responses", json=body, headers=gw.auth(), timeout=10)
    assert "zdr-receipt" not in response.headers  # the headers left before any decision
    lines = [line for line in response.text.split("\n") if line]
    assert lines[0] == ": keep-alive"
    decision = next(line for line in lines if line.startswith(": x-zdr-endpoint="))
    assert decision.startswith(": x-zdr-endpoint=p/late x-zdr-policy=sha256:")
    assert lines.index(decision) < lines.index("event: response.created")
    token, covered = receipt_in_stream(response.content)
    keys = gw.state.receipts.ring.verification_keys()
    assert verify_receipt(token, keys, None, covered).ok
    assert (
        response.content[len(covered) :]
        .split(b"\n\n", 1)[1]
        .startswith(b"event: response.completed\n")
    )


def test_the_async_client_streams_too(gateway: RunningGateway) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(
            base_url=gateway.v1, api_key=gateway.key, max_retries=0
        ) as sdk:
            plain = await sdk.responses.create(model="test/gemini", input="hello")
            async with sdk.responses.stream(model="test/anthropic", input="hi") as stream:
                final = await stream.get_final_response()
        return plain.output_text, final.output_text

    assert asyncio.run(run()) == ("echo: hello", "one two three echo: hi")


def test_n_choices_over_the_responses_protocol_are_n_calls(gateway: RunningGateway) -> None:
    body = {"model": "test/responses", "messages": [{"role": "user", "content": "x"}], "n": 2}
    response = httpx.post(gateway.v1 + "/chat/completions", json=body, headers=gateway.auth())
    assert response.status_code == 200, response.text
    choices = response.json()["choices"]
    assert [(c["index"], c["message"]["content"]) for c in choices] == [
        (0, "echo: x"),
        (1, "echo: x"),
    ]
    streamed = httpx.post(
        gateway.v1 + "/chat/completions", json={**body, "stream": True}, headers=gateway.auth()
    )
    assert streamed.status_code == 200  # two streams merged into one
    indexes = {
        choice["index"]
        for line in streamed.text.splitlines()
        if line.startswith("data: {")
        for choice in json.loads(line.removeprefix("data: "))["choices"]
    }
    assert indexes == {0, 1}


APPLY_PATCH: Any = [{"type": "custom", "name": "apply_patch", "description": "Edit files",
                     "format": {"type": "grammar", "syntax": "lark",
                                "definition": "start: /[\\s\\S]+/"}}]  # fmt: skip


def test_custom_tools_round_trip_over_the_responses_protocol(client: openai.OpenAI) -> None:
    """A Responses client's custom tool (Codex's apply_patch) reaches a Responses-only
    model as a custom tool and its call comes back as a custom_tool_call item."""
    response = client.responses.create(
        model="test/responses-custom", input="add hello.txt", tools=APPLY_PATCH,
        tool_choice={"type": "custom", "name": "apply_patch"},
    )  # fmt: skip
    [call] = response.output
    assert call.type == "custom_tool_call" and call.call_id == "call_c0"
    assert (call.name, call.input) == ("apply_patch", PATCH)
    history: Any = [
        {"role": "user", "content": "add hello.txt"},
        {"type": "custom_tool_call", "call_id": "call_c0", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_c0", "output": "Done"},
    ]
    again = client.responses.create(model="test/responses", input=history, tools=APPLY_PATCH)
    assert again.output_text == "echo: add hello.txt"


def test_a_streamed_custom_tool_call(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="test/responses-custom", input="add hello.txt", tools=APPLY_PATCH
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == PATCH and len(deltas) > 1
    assert "response.custom_tool_call_input.done" in kinds
    [call] = final.output
    assert call.type == "custom_tool_call" and call.input == PATCH
    assert final.status == "completed"


def test_translation_of_custom_tools_and_items() -> None:
    request = ResponsesRequest.model_validate({
        "model": "a/m", "tools": APPLY_PATCH, "input": [
            {"role": "user", "content": "go"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "x"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "ok"},
        ],
    })  # fmt: skip
    chat = to_chat_request(request).model_dump(exclude_none=True)
    assert chat["tools"] == [{"type": "custom", "custom": {
        "name": "apply_patch", "description": "Edit files",
        "format": {"type": "grammar", "grammar": {"definition": "start: /[\\s\\S]+/",
                                                  "syntax": "lark"}}}}]  # fmt: skip
    assert chat["messages"][1]["tool_calls"] == [
        {"id": "c1", "type": "custom", "custom": {"name": "apply_patch", "input": "x"}}
    ]
    assert chat["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "ok"}


def test_custom_tools_for_a_protocol_without_them_are_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="test/anthropic", input="hi", tools=APPLY_PATCH)
    assert info.value.code == "custom_tools_unsupported"
