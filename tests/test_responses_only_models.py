"""Models OpenAI and Azure OpenAI serve only on the Responses API (the ``-pro`` and
``-codex`` models) are called there automatically, with ``store: false``, while the
same provider's other models stay on chat completions: the shipped catalog marks their
endpoints, the protocol table pairs the two protocols, and an operator can declare one.

The fakes answer as OpenAI does: ``/v1/chat/completions`` and ``/v1/responses`` on one
origin (the Responses fake refuses ``store`` other than false), and a fake Azure
resource with its two Responses addresses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from aiohttp import web

from conftest import TODAY, GatewayFactory, RunningGateway
from fake_azure import KEY as AZURE_KEY
from fake_azure import FakeAzure
from fake_openai import FakeOpenAI, ServerThread
from fake_responses import FakeResponses
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog, Protocol
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.protocols import endpoint_spec
from zdrgate.protocols.table import VARIANTS

CODEX, PRO, PLAIN = "openai/gpt-5-codex", "openai/gpt-5-pro", "openai/gpt-4o"
# Served by OpenAI only on the Responses API (its model pages; chat completions answers
# 400 "This model is only supported in v1/responses and not in v1/chat/completions").
RESPONSES_ONLY = (
    "gpt-5-codex", "gpt-5-pro", "gpt-5.1-codex", "gpt-5.1-codex-max", "gpt-5.1-codex-mini",
    "gpt-5.2-codex", "gpt-5.2-pro", "gpt-5.3-codex", "gpt-5.4-pro", "gpt-5.5-pro",
    "o1-pro", "o3-pro",
)  # fmt: skip
OPENAI_KEY = "sk-upstream"
HELLO: Any = [{"role": "user", "content": "hello"}]


class FakeOpenAIOrigin:
    """api.openai.com as far as these models go: both APIs on one origin."""

    def __init__(self) -> None:
        self.chat, self.responses = FakeOpenAI(), FakeResponses()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat.chat)
        app.router.add_post("/v1/responses", self.responses.responses)
        self.server = ServerThread(app)
        self.port = self.server.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def origin() -> Iterator[FakeOpenAIOrigin]:
    fake = FakeOpenAIOrigin()
    yield fake
    fake.server.stop()


def shipped_subset(provider_id: str, model_ids: tuple[str, ...]) -> Catalog:
    """The shipped catalog's provider and models, that provider's home endpoints only."""
    shipped = load_packaged_catalog()
    models = {
        mid: dataclasses.replace(
            shipped.models[mid],
            endpoints=tuple(
                e
                for e in shipped.models[mid].endpoints
                if e.provider.id == provider_id and e.region is None
            ),
        )
        for mid in model_ids
    }
    return Catalog({provider_id: shipped.providers[provider_id]}, models)


def attested(port: int, **conf: Any) -> dict[str, Any]:
    """The operator's provider table; the fake's loopback origin is attested, as an
    operator attests a proxy of their own."""
    attestation = {
        "reference": "ZDR amendment 2026-03",
        "attested_on": "2026-11-02",
        "origins": [f"http://127.0.0.1:{port}"],
    }
    return {"zdr_attestation": attestation, **conf}


def openai_gateway(make_gateway: GatewayFactory, origin: FakeOpenAIOrigin) -> RunningGateway:
    conf = attested(origin.port, base_url=origin.base_url, api_key=OPENAI_KEY)
    return make_gateway({"openai": conf}, catalog=shipped_subset("openai", (CODEX, PRO, PLAIN)))


def sdk(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0)


# ---------------------------------------------------------------- the shipped catalog


def test_the_catalog_marks_every_responses_only_openai_model() -> None:
    catalog = load_packaged_catalog()
    for upstream_id in RESPONSES_ONLY:
        endpoints = [
            e
            for e in catalog.models[f"openai/{upstream_id}"].endpoints
            if e.provider.id == "openai"
        ]
        assert {e.region for e in endpoints} == {None, "eu"}, upstream_id
        assert {e.protocol for e in endpoints} == {Protocol.RESPONSES}, upstream_id
        assert {endpoint_spec(e).name for e in endpoints} == {Protocol.RESPONSES}


def test_other_models_keep_their_providers_protocol() -> None:
    catalog = load_packaged_catalog()
    for mid in (PLAIN, "openai/gpt-5", "openai/gpt-5.5", "openai/o3"):
        for endpoint in catalog.models[mid].endpoints:
            assert endpoint.protocol is None
            assert endpoint_spec(endpoint).name is endpoint.provider.protocol


def test_every_marked_endpoint_speaks_a_variant_of_its_provider() -> None:
    catalog = load_packaged_catalog()
    marked = [
        e for m in catalog.models.values() for e in m.endpoints if e.protocol is not None
    ]
    assert {e.provider.id for e in marked} == {"openai", "azure"}
    for endpoint in marked:
        assert (endpoint.provider.protocol, endpoint.protocol) in VARIANTS
        assert endpoint_spec(endpoint) is VARIANTS[(endpoint.provider.protocol, Protocol.RESPONSES)]


def test_deep_research_models_are_not_in_the_catalog() -> None:
    """They answer only with a web search, file search or MCP tool: a third party."""
    catalog = load_packaged_catalog()
    assert "openai/o3-deep-research" not in catalog.models
    assert "openai/o4-mini-deep-research" not in catalog.models


# ---------------------------------------------------------------- OpenAI


def test_a_codex_model_is_called_over_the_responses_api(
    origin: FakeOpenAIOrigin, make_gateway: GatewayFactory
) -> None:
    gateway = openai_gateway(make_gateway, origin)
    with sdk(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(model=CODEX, messages=HELLO)
        plain = client.chat.completions.create(model=PLAIN, messages=HELLO)
    answer = raw.parse()
    assert answer.choices[0].message.content == "echo: hello"
    assert answer.usage is not None and answer.usage.prompt_tokens == 11
    assert raw.headers["x-zdr-endpoint"] == "openai/gpt-5-codex"
    [call] = origin.responses.requests
    assert call.path == "/v1/responses"
    assert call.body["model"] == "gpt-5-codex" and call.body["store"] is False
    assert call.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    # The provider's other models stay on chat completions.
    assert plain.choices[0].message.content
    assert [r.body["model"] for r in origin.chat.requests] == ["gpt-4o"]


def test_a_pro_model_streams_over_the_responses_api(
    origin: FakeOpenAIOrigin, make_gateway: GatewayFactory
) -> None:
    gateway = openai_gateway(make_gateway, origin)
    with sdk(gateway) as client:
        chunks = list(client.chat.completions.create(model=PRO, messages=HELLO, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three echo: hello"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    [call] = origin.responses.requests
    assert call.body["stream"] is True and call.body["store"] is False
    assert origin.chat.requests == []


def test_the_inbound_apis_reach_it_too(
    origin: FakeOpenAIOrigin, make_gateway: GatewayFactory
) -> None:
    gateway = openai_gateway(make_gateway, origin)
    with sdk(gateway) as client:
        response = client.responses.create(model=CODEX, input="hi there")
    with anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0) as ant:
        message = ant.messages.create(model=CODEX, max_tokens=64, messages=HELLO)
    assert response.output_text == "echo: hi there" and response.store is False
    assert message.content[0].type == "text" and message.content[0].text == "echo: hello"
    assert [r.body["store"] for r in origin.responses.requests] == [False, False]
    assert origin.chat.requests == []


def test_a_chat_field_the_responses_api_lacks_is_refused_before_sending(
    origin: FakeOpenAIOrigin, make_gateway: GatewayFactory
) -> None:
    gateway = openai_gateway(make_gateway, origin)
    with sdk(gateway) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CODEX, messages=HELLO, stop=["x"])
    assert caught.value.code == "unsupported_parameter"
    assert origin.responses.requests == [] and origin.chat.requests == []


def test_the_model_listing_names_the_protocol(
    origin: FakeOpenAIOrigin, make_gateway: GatewayFactory
) -> None:
    gateway = openai_gateway(make_gateway, origin)
    with sdk(gateway) as client:
        codex = client.get(f"/models/{CODEX}/endpoints", cast_to=httpx.Response).json()
        plain = client.get(f"/models/{PLAIN}/endpoints", cast_to=httpx.Response).json()
    assert [e["protocol"] for e in codex["data"]["endpoints"]] == ["responses"]
    assert [e["protocol"] for e in plain["data"]["endpoints"]] == ["openai"]


# ---------------------------------------------------------------- Azure OpenAI


@pytest.mark.parametrize("api", ["v1", "deployments"])
def test_azure_serves_its_codex_deployment_over_the_responses_api(
    api: str, azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    base = azure.v1_url if api == "v1" else azure.base_url
    deployments = {CODEX: "codex-prod", PLAIN: "ok"}
    conf = attested(azure.port, base_url=base, api_key=AZURE_KEY, deployments=deployments)
    gateway = make_gateway({"azure": conf}, catalog=shipped_subset("azure", (CODEX, PLAIN)))
    with sdk(gateway) as client:
        answer = client.chat.completions.create(model=CODEX, messages=HELLO)
        chunks = list(client.chat.completions.create(model=CODEX, messages=HELLO, stream=True))
        client.chat.completions.create(model=PLAIN, messages=HELLO)
    assert answer.choices[0].message.content == "echo: hello"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith(
        "echo: hello"
    )
    codex, streamed, plain = azure.calls
    expected = (
        ("/openai/v1/responses", {})
        if api == "v1"
        else ("/openai/responses", {"api-version": "2025-04-01-preview"})
    )
    assert (codex.path, codex.query) == expected == (streamed.path, streamed.query)
    assert codex.body["model"] == "codex-prod" and codex.body["store"] is False
    assert codex.headers["api-key"] == AZURE_KEY and "Authorization" not in codex.headers
    assert plain.path.endswith("/chat/completions")


def test_azure_keeps_a_responses_capable_api_version(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    """An operator's api_version older than the Responses API is not sent to it."""
    for version, sent in (("2024-10-21", "2025-04-01-preview"), ("2025-03-01-preview",) * 2):
        conf = attested(
            azure.port, base_url=azure.base_url, api_key=AZURE_KEY,
            deployments={CODEX: "codex-prod"}, api_version=version,
        )  # fmt: skip
        gateway = make_gateway({"azure": conf}, catalog=shipped_subset("azure", (CODEX,)))
        with sdk(gateway) as client:
            client.chat.completions.create(model=CODEX, messages=HELLO)
        assert azure.calls[-1].query == {"api-version": sent}


# ---------------------------------------------------------------- declared models


def declared(provider_id: str, protocol: str) -> Catalog:
    model = {"id": "openai/gpt-6-codex", "upstream_id": "gpt-6-codex", "protocol": protocol}
    conf = {provider_id: {"api_key": "k", "models": [model]}}
    return build_catalog(load_packaged_catalog(), parse_settings({"providers": conf}), {}, TODAY)


def test_an_operator_declares_a_responses_only_model() -> None:
    [endpoint] = declared("openai", "responses").models["openai/gpt-6-codex"].endpoints
    assert endpoint.protocol is Protocol.RESPONSES
    assert endpoint_spec(endpoint).name is Protocol.RESPONSES


@pytest.mark.parametrize(
    ("provider_id", "protocol"), [("openai", "anthropic"), ("anthropic", "responses")]
)
def test_a_protocol_the_provider_cannot_speak_stops_the_start(
    provider_id: str, protocol: str
) -> None:
    with pytest.raises(ConfigError, match="is not spoken by"):
        declared(provider_id, protocol)


def test_an_unknown_protocol_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="protocol: Value error, must be one of"):
        declared("openai", "carrier-pigeon")
