"""The whole OpenAI chat request as OpenAI publishes it: each field beyond the common
ones is forwarded, translated or refused with its own code, over every protocol of the
table (docs/api.md, "Chat request fields").

Translations are checked where they happen: the body each protocol's codec builds
from the canonical request; answers through the gateway with the official SDK over
the protocol fakes (tests/protocol_fakes.py)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from conftest import RunningGateway
from fake_responses import PATCH
from protocol_fakes import PROTOCOLS
from unit.test_policy_engine import endpoint
from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.errors import InvalidRequest
from zdrgate.protocols import spec_for
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.compat import canonical, function_call_chunk

WEATHER: Any = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TIME: Any = {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
HELLO: Any = [{"role": "user", "content": "hello"}]


def on(protocol: str, provider_id: str = "p") -> Endpoint:
    ep = endpoint()
    provider = dataclasses.replace(ep.provider, id=provider_id, protocol=Protocol(protocol))
    return dataclasses.replace(ep, provider=provider)


def sent(protocol: str, body: dict[str, Any], provider_id: str = "p") -> dict[str, Any]:
    """The upstream body the protocol's codec builds for ``body`` (as the route does)."""
    request = canonical(ChatRequest.model_validate({"model": "a/m", **body}))
    codec = spec_for(Protocol(protocol)).require_chat()
    call = codec.build_chat(on(protocol, provider_id), request)
    parsed: dict[str, Any] = orjson.loads(call.body)
    return parsed


def tool_names(protocol: str, body: dict[str, Any]) -> list[str]:
    if protocol in ("anthropic", "anthropic-vertex"):
        return [t["name"] for t in body.get("tools", ())]
    if protocol == "gemini":
        return [d["name"] for t in body.get("tools", ()) for d in t["functionDeclarations"]]
    if protocol == "bedrock":
        return [t["toolSpec"]["name"] for t in body.get("toolConfig", {}).get("tools", ())]
    if protocol == "responses":  # OpenAI's Responses API: flat tool objects
        return [t["name"] for t in body.get("tools", ())]
    return [t.get("function", t.get("custom", {}))["name"] for t in body.get("tools", ())]


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0) as sdk:
        yield sdk


# ---------------------------------------------------------------- functions (deprecated)

LEGACY_HISTORY: Any = [
    {"role": "user", "content": "weather in Paris?"},
    {"role": "assistant", "content": None,
     "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"role": "function", "name": "get_weather", "content": '{"temp": 21}'},
    {"role": "user", "content": "thanks"},
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_functions_become_tools_upstream(protocol: str) -> None:
    body = sent(protocol, {"messages": HELLO, "functions": [WEATHER, TIME],
                           "function_call": {"name": "get_time"}})
    assert tool_names(protocol, body) == ["get_weather", "get_time"]
    assert "functions" not in body and "function_call" not in body
    if protocol in ("openai", "azure-openai"):
        assert body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
        assert body["parallel_tool_calls"] is False
    elif protocol == "gemini":
        assert body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == ["get_time"]
    elif protocol == "bedrock":  # Converse has no switch for parallel calls
        assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "get_time"}}
    elif protocol == "responses":
        assert body["tool_choice"] == {"type": "function", "name": "get_time"}
        assert body["parallel_tool_calls"] is False
    else:
        assert body["tool_choice"] == {"type": "tool", "name": "get_time",
                                       "disable_parallel_tool_use": True}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_function_role_history_becomes_a_tool_exchange(protocol: str) -> None:
    body = sent(protocol, {"messages": LEGACY_HISTORY, "functions": [WEATHER]})
    text = json.dumps(body)
    assert '"role": "function"' not in text
    # (the Responses API names its call items "function_call": not the deprecated field)
    assert '"function_call"' not in text or protocol == "responses"
    assert "function_call" not in body
    if protocol in ("openai", "azure-openai"):
        call, answer = body["messages"][1], body["messages"][2]
        assert call["tool_calls"][0]["function"]["name"] == "get_weather"
        assert answer["role"] == "tool"
        assert answer["tool_call_id"] == call["tool_calls"][0]["id"]
    elif protocol == "gemini":
        parts = [p for turn in body["contents"] for p in turn["parts"]]
        assert parts[1]["functionCall"]["name"] == "get_weather"
        assert parts[2]["functionResponse"] == {"name": "get_weather",
                                                "response": {"temp": 21}}
    elif protocol == "bedrock":
        blocks = [b for turn in body["messages"] for b in turn["content"]]
        assert blocks[1]["toolUse"]["name"] == "get_weather"
        assert blocks[2]["toolResult"]["toolUseId"] == blocks[1]["toolUse"]["toolUseId"]
    elif protocol == "responses":
        call, answer = body["input"][1], body["input"][2]
        assert call["type"] == "function_call" and call["name"] == "get_weather"
        assert answer["type"] == "function_call_output"
        assert answer["call_id"] == call["call_id"]
    else:
        blocks = [b for turn in body["messages"] for b in turn["content"]]
        assert blocks[1]["type"] == "tool_use" and blocks[2]["type"] == "tool_result"
        assert blocks[2]["tool_use_id"] == blocks[1]["id"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_functions_are_answered_as_function_call(client: openai.OpenAI, protocol: str) -> None:
    result = client.chat.completions.create(
        model=f"test/{protocol}-tools", messages=HELLO, functions=[WEATHER]
    )
    choice = result.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None
    assert choice.message.function_call is not None
    assert choice.message.function_call.name == "get_weather"
    assert json.loads(choice.message.function_call.arguments) == {"city": "Paris"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streamed_functions_are_answered_as_function_call(
    client: openai.OpenAI, protocol: str
) -> None:
    chunks = list(client.chat.completions.create(
        model=f"test/{protocol}-tools", messages=HELLO, functions=[WEATHER], stream=True
    ))
    calls = [c.choices[0].delta.function_call for c in chunks if c.choices]
    assert all(c.choices[0].delta.tool_calls is None for c in chunks if c.choices)
    name = "".join((c.name or "") for c in calls if c)
    arguments = "".join((c.arguments or "") for c in calls if c)
    assert (name, json.loads(arguments)) == ("get_weather", {"city": "Paris"})
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert [f for f in finishes if f] == ["function_call"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_legacy_history_is_served(client: openai.OpenAI, protocol: str) -> None:
    result = client.chat.completions.create(
        model=f"test/{protocol}", messages=LEGACY_HISTORY, functions=[WEATHER]
    )
    assert result.choices[0].message.content == "echo: thanks"
    assert result.choices[0].finish_reason == "stop"


def test_functions_and_tools_together_are_refused() -> None:
    request = ChatRequest.model_validate({
        "model": "a/m", "messages": HELLO, "functions": [WEATHER],
        "tools": [{"type": "function", "function": TIME}],
    })
    with pytest.raises(InvalidRequest, match="not both"):
        canonical(request)


def test_a_chunk_of_a_second_call_is_not_merged_into_the_first() -> None:
    chunk = {"choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
        {"index": 1, "function": {"arguments": '{"tz"'}}]}}]}
    assert function_call_chunk(chunk)["choices"][0]["delta"] == {}


# ---------------------------------------------------------------- tools of newer shapes

ALLOWED: Any = {
    "type": "allowed_tools",
    "allowed_tools": {"mode": "required", "tools": [
        {"type": "function", "function": {"name": "get_time"}}]},
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_allowed_tools_cut_the_tool_list(protocol: str) -> None:
    tools = [{"type": "function", "function": WEATHER}, {"type": "function", "function": TIME}]
    body = sent(protocol, {"messages": HELLO, "tools": tools, "tool_choice": ALLOWED})
    assert tool_names(protocol, body) == ["get_time"]
    if protocol in ("openai", "azure-openai"):
        assert body["tool_choice"] == "required"
    elif protocol == "gemini":
        assert body["toolConfig"]["functionCallingConfig"]["mode"] == "ANY"
    elif protocol == "bedrock":
        assert body["toolConfig"]["toolChoice"] == {"any": {}}
    elif protocol == "responses":
        assert body["tool_choice"] == "required"
    else:
        assert body["tool_choice"] == {"type": "any"}


def test_allowed_tools_naming_no_tool_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="test/openai", messages=HELLO,
            tools=[{"type": "function", "function": WEATHER}], tool_choice=ALLOWED,
        )
    assert caught.value.body["param"] == "tool_choice"  # type: ignore[index]


CUSTOM: Any = {"type": "custom", "custom": {"name": "run_sql", "description": "SQL",
                                            "format": {"type": "text"}}}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_custom_tools_are_forwarded_or_refused_by_code(protocol: str) -> None:
    history: Any = [*HELLO, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "custom", "custom": {"name": "run_sql", "input": "select 1"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"}]
    body = {"messages": history, "tools": [CUSTOM],
            "tool_choice": {"type": "custom", "custom": {"name": "run_sql"}}}
    if protocol in ("openai", "azure-openai"):
        upstream = sent(protocol, body)
        assert upstream["tools"] == [CUSTOM]
        assert upstream["tool_choice"] == {"type": "custom", "custom": {"name": "run_sql"}}
        assert upstream["messages"][1]["tool_calls"][0]["custom"]["input"] == "select 1"
        return
    if protocol == "responses":  # the Responses API's own custom tools, flat
        upstream = sent(protocol, body)
        assert upstream["tools"] == [{"type": "custom", "name": "run_sql", "description": "SQL",
                                      "format": {"type": "text"}}]  # fmt: skip
        assert upstream["tool_choice"] == {"type": "custom", "name": "run_sql"}
        assert upstream["input"][1:] == [
            {"type": "custom_tool_call", "call_id": "c1", "name": "run_sql", "input": "select 1"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "1"},
        ]
        return
    with pytest.raises(InvalidRequest) as caught:
        sent(protocol, body)
    assert caught.value.code == "custom_tools_unsupported"


def test_a_grammar_is_the_responses_apis_flat_format() -> None:
    lark = {"type": "grammar", "grammar": {"definition": "start: /[0-9]+/", "syntax": "lark"}}
    tool = {"type": "custom", "custom": {"name": "digits", "format": lark}}
    body = {"messages": HELLO, "tools": [tool, CUSTOM], "tool_choice": {"type": "allowed_tools",
            "allowed_tools": {"mode": "required", "tools": [
                {"type": "custom", "custom": {"name": "digits"}}]}}}  # fmt: skip
    upstream = sent("responses", body)
    assert upstream["tools"] == [{"type": "custom", "name": "digits", "format": {
        "type": "grammar", "definition": "start: /[0-9]+/", "syntax": "lark"}}]  # fmt: skip
    assert upstream["tool_choice"] == "required"  # allowed_tools: the list cut to them


@pytest.mark.parametrize("stream", [False, True])
def test_a_custom_tool_call_comes_back_over_the_responses_protocol(
    client: openai.OpenAI, stream: bool
) -> None:
    """gpt-5-codex's apply_patch, say: the call's free-form input, plain and streamed."""
    args: Any = {"model": "test/responses-custom", "messages": HELLO, "tools": [CUSTOM]}
    if not stream:
        message = client.chat.completions.create(**args).choices[0]
        assert message.finish_reason == "tool_calls"
        [call] = message.message.tool_calls or []
        assert call.type == "custom" and call.id == "call_c0"
        assert (call.custom.name, call.custom.input) == ("apply_patch", PATCH)  # type: ignore[union-attr]
        return
    chunks = list(client.chat.completions.create(**args, stream=True))
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    first, *rest = [c.model_dump() for d in deltas for c in d.tool_calls or ()]
    assert (first["id"], first["type"]) == ("call_c0", "custom")
    assert first["custom"]["name"] == "apply_patch"
    assert "".join(c["custom"]["input"] for c in rest) == PATCH and len(rest) > 1
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_custom_tool_is_a_400_with_its_code_through_the_gateway(gateway: RunningGateway) -> None:
    response = httpx.post(
        gateway.v1 + "/chat/completions", headers=gateway.auth(), timeout=30,
        json={"model": "test/anthropic", "messages": HELLO, "tools": [CUSTOM]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "custom_tools_unsupported"


# ---------------------------------------------------------------- refusals in history


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_assistant_refusals_in_history_are_carried_as_its_words(protocol: str) -> None:
    history: Any = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help."}]},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": None, "refusal": "Not that either."},
        {"role": "user", "content": "three"},
    ]
    text = json.dumps(sent(protocol, {"messages": history}))
    assert "I can't help." in text and "Not that either." in text
    assert '"refusal"' not in text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_refusal_history_is_served(client: openai.OpenAI, protocol: str) -> None:
    history: Any = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        {"role": "user", "content": "two"},
    ]
    result = client.chat.completions.create(model=f"test/{protocol}", messages=history)
    assert result.choices[0].message.content == "echo: two"


# ---------------------------------------------------------------- prediction, n


PREDICTION: Any = {"type": "content", "content": "def f():\n    return 1\n"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_prediction_goes_only_where_it_is_understood(protocol: str) -> None:
    body = {"messages": HELLO, "prediction": PREDICTION}
    if protocol == "openai":
        assert sent(protocol, body, "openai")["prediction"] == PREDICTION
        assert "prediction" not in sent(protocol, body, "groq")  # a compatible vendor
    elif protocol == "azure-openai":
        assert sent(protocol, body)["prediction"] == PREDICTION
    else:
        assert "prediction" not in json.dumps(sent(protocol, body))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_n_is_forwarded_or_a_stream_capability_error(protocol: str) -> None:
    body = {"messages": HELLO, "n": 2, "stream": True}
    if spec_for(Protocol(protocol)).one_choice_per_call:
        with pytest.raises(InvalidRequest) as caught:
            sent(protocol, body)
        assert (caught.value.code, caught.value.param) == ("n_unsupported", "n")
    elif protocol == "gemini":
        assert sent(protocol, body)["generationConfig"]["candidateCount"] == 2
    else:
        assert sent(protocol, body)["n"] == 2


@pytest.mark.parametrize("protocol", ["anthropic", "anthropic-vertex", "bedrock"])
def test_n_is_fanned_out_where_a_call_answers_one_choice(
    client: openai.OpenAI, gateway: RunningGateway, protocol: str
) -> None:
    result = client.chat.completions.create(model=f"test/{protocol}", messages=HELLO, n=3)
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert {c.message.content for c in result.choices} == {"echo: hello"}
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (33, 21)  # 3 calls


@pytest.mark.parametrize("protocol", ["anthropic", "anthropic-vertex", "bedrock", "responses"])
def test_a_streamed_n_is_n_streams_merged_into_one(client: openai.OpenAI, protocol: str) -> None:
    chunks = list(client.chat.completions.create(
        model=f"test/{protocol}", messages=HELLO, n=3, stream=True,
        stream_options={"include_usage": True},
    ))  # fmt: skip
    texts: dict[int, str] = {}
    finishes: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            finishes[choice.index] = choice.finish_reason or finishes.get(choice.index)
    assert texts == {i: "one two three echo: hello" for i in range(3)}
    assert finishes == {0: "stop", 1: "stop", 2: "stop"}
    assert len({chunk.id for chunk in chunks}) == 1  # one stream, as OpenAI sends n
    *_, last = chunks
    assert last.choices == [] and last.usage is not None  # one usage, summed
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (33, 21)
    assert [c for c in chunks[:-1] if c.usage is not None] == []


def test_one_broken_stream_of_n_ends_the_stream_loudly(gateway: RunningGateway) -> None:
    response = httpx.post(
        gateway.v1 + "/chat/completions", headers=gateway.auth(), timeout=30,
        json={"model": "test/anthropic-break", "messages": HELLO, "n": 2, "stream": True},
    )
    assert response.status_code == 200  # the streams had started
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "error"  # never n-1 choices, silently
    assert last["error"]["type"] == "upstream_error"


# ---------------------------------------------------------------- refused fields


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("web_search_options", {"search_context_size": "low"}, "web_search_refused"),
        ("audio", {"voice": "alloy", "format": "wav"}, "audio_output_refused"),
        ("modalities", ["text", "audio"], "audio_output_refused"),
        ("prompt_cache_retention", "24h", "storage_feature_refused"),
    ],
)
def test_refused_fields_have_their_own_code(
    gateway: RunningGateway, field: str, value: Any, code: str
) -> None:
    body = {"model": "test/openai", "messages": HELLO, field: value}
    response = httpx.post(
        gateway.v1 + "/chat/completions", json=body, headers=gateway.auth(), timeout=30
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"], error["type"]) == (code, field,
                                                              "invalid_request_error")


def test_in_memory_cache_retention_and_store_are_accepted_not_forwarded() -> None:
    body = sent("openai", {"messages": HELLO, "prompt_cache_retention": "in-memory",
                           "store": True}, "openai")
    assert "prompt_cache_retention" not in body and body["store"] is False


def test_a_failed_call_of_a_fan_out_fails_it_whole_and_stops_the_others() -> None:
    import asyncio  # noqa: PLC0415

    from zdrgate.service.fanout import fan_out  # noqa: PLC0415

    started: list[int] = []
    cancelled: list[int] = []

    async def call() -> dict[str, Any]:
        number = len(started)
        started.append(number)
        if number == 1:
            raise RuntimeError("upstream failed")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(number)
            raise
        return {}

    async def run() -> None:
        with pytest.raises(RuntimeError):
            await fan_out(3, call)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert started == [0, 1, 2] and sorted(cancelled) == [0, 2]
