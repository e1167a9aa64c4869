"""``/openapi.json`` describes every route truly, and a schemathesis run against it
finds no 5xx and no error outside the OpenAI envelope."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance
from starlette.routing import Route

from conftest import MASTER, TODAY, UvicornThread, chat_model, provider
from fake_openai import start_fake_openai
from zdrgate.catalog.model import Catalog
from zdrgate.config import parse_settings
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.server.app import _routes, app_for, build_state
from zdrgate.server.openapi import openapi_path
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest
from zdrgate.wire.receipts import VerifyRequest


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One gateway for the whole module (schemathesis calls it hundreds of times)."""
    fake, fake_server = start_fake_openai()
    raw = {
        "storage": {"database_url": f"sqlite:///{tmp_path_factory.mktemp('oa')}/z.db"},
        "providers": {"p": provider(fake.base_url, [chat_model("ok")])},
    }
    state = build_state(
        parse_settings(raw),
        catalog=Catalog({}, {}),
        environ={"ZDRGATE_MASTER_KEY": MASTER},
        today=lambda: TODAY,
        rng=random.Random(7),
    )
    thread = UvicornThread(app_for(state))
    port = thread.start()
    yield f"http://127.0.0.1:{port}"
    thread.stop()
    fake_server.stop()


@pytest.fixture(scope="module")
def document(served: str) -> dict[str, Any]:
    response = httpx.get(served + "/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_route_is_described(document: dict[str, Any]) -> None:
    missing = []
    for route in _routes():
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            if method.lower() not in document["paths"].get(openapi_path(route.path), {}):
                missing.append(f"{method} {route.path}")
    assert not missing, f"add these routes to zdrgate.server.openapi.OPERATIONS: {missing}"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/chat/completions", ChatRequest),
        ("/v1/messages", MessagesRequest),
        ("/v1/images/generations", ImageRequest),
        ("/v1/embeddings", EmbeddingRequest),
        ("/v1/receipts/verify", VerifyRequest),
    ],
)
def test_request_fields_match_the_wire_models(
    document: dict[str, Any], path: str, model: type[Any]
) -> None:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]
    schema = document["components"]["schemas"][name]
    # Fields refused whatever their value are not accepted properties (x-zdrgate-refused).
    refused = {r["field"] for r in schema.get("x-zdrgate-refused", ()) if "value" not in r}
    fields = {f.alias or n for n, f in model.model_fields.items()}
    assert set(schema["properties"]) == fields - refused
    required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
    assert set(schema.get("required", ())) == required
    assert schema.get("additionalProperties") is False  # unknown fields are refused


def test_refused_chat_fields_are_described_with_their_codes(
    document: dict[str, Any], served: str
) -> None:
    """Each field of ``x-zdrgate-refused`` is refused with the code it names."""
    schema = document["components"]["schemas"]["ChatRequest"]
    listed = schema["x-zdrgate-refused"]
    assert {r["field"] for r in listed} >= {"web_search_options", "audio", "modalities"}
    values = {"web_search_options": {}, "audio": {"voice": "alloy", "format": "mp3"}}
    for refusal in listed:
        field = refusal["field"]
        value = [refusal["value"]] if field == "modalities" else values.get(field)
        body = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}],
                field: refusal.get("value", value) if field != "modalities" else value}
        response = httpx.post(
            served + "/v1/chat/completions", json=body,
            headers={"Authorization": f"Bearer {MASTER}"},
        )
        assert response.status_code == 400, field
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (refusal["code"], field)
        assert refusal["why"] in error["message"]
        if "value" not in refusal:
            assert field not in schema["properties"]  # not an accepted field


def test_errors_are_described_as_the_envelope(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            default = operation["responses"]["default"]["content"]["application/json"]
            name = "AnthropicError" if path == "/v1/messages" else "Error"
            assert default["schema"] == {"$ref": f"#/components/schemas/{name}"}, (method, path)


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_schemathesis_finds_no_5xx_and_no_error_outside_the_envelope(
    served: str, mode: schemathesis.GenerationMode
) -> None:
    """Valid and invalid requests to every operation (a few each: the suite's time)."""
    schema = schemathesis.openapi.from_url(served + "/openapi.json")
    headers = {"Authorization": f"Bearer {MASTER}"}
    checks = [not_a_server_error, response_schema_conformance]
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode is schemathesis.GenerationMode.NEGATIVE and not operation.body:
            continue  # only a body can be invalid here (path params are any string)
        # Storage-feature routes answer one fixed 400: a couple of cases each.
        examples = 20 if operation.body else 3

        @given(case=operation.as_strategy(generation_mode=mode), routable=st.booleans())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case, routable: bool) -> None:
            if routable and isinstance(case.body, dict) and "model" in case.body:
                case.body["model"] = "test/chat"  # through the pipeline to the fake upstream
            case.call_and_validate(headers=headers, checks=checks, timeout=30)

        run()
        ran += 1
    assert ran >= 5


def test_a_huge_integer_in_a_tool_use_input_is_a_400(served: str) -> None:
    """Found by the schemathesis run: orjson cannot write integers past 64 bits."""
    tool_use = {"type": "tool_use", "id": "t1", "name": "f", "input": {"n": -(10**20)}}
    body = {
        "model": "test/chat",
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
        ],
    }
    headers = {"Authorization": f"Bearer {MASTER}"}
    response = httpx.post(served + "/v1/messages", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_limit_past_the_column_is_a_400(served: str) -> None:
    """Found by the schemathesis run: an INTEGER column overflowed in the driver (500)."""
    headers = {"Authorization": f"Bearer {MASTER}"}
    for body in ({"name": "t", "tpm": 2**70}, {"name": "t", "budget_day_usd": 1e308}):
        response = httpx.post(served + "/v1/admin/teams", json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_value"
