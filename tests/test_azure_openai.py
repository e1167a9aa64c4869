"""Azure OpenAI: the catalog's provider configured as an operator would (resource URL,
deployments, api-version, api-key or Entra ID token), against a fake Azure resource on
127.0.0.1 that checks paths, ``api-version`` and the key.

The parity suite runs the shared chat tests over the deployment-path API
(protocol_fakes); here: the v1 API, images, embeddings, the content filter, and what
keeps a model unroutable (placeholder URL, no deployment mapped)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import openai
import pytest
from click.testing import CliRunner

from conftest import TODAY, GatewayFactory, RunningGateway
from fake_azure import ENTRA_TOKEN, KEY, FakeAzure
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.cli import main
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.policy import PolicyEngine, Reason

ATTESTED = {"reference": "Azure OpenAI ZDR approval", "attested_on": "2026-11-02"}
CHAT, UNMAPPED = "openai/gpt-4o", "openai/gpt-4.1"
IMAGE, EMBED = "openai/gpt-image-1", "openai/text-embedding-3-small"
DEPLOYMENTS = {CHAT: "ok", IMAGE: "painter", EMBED: "embedder"}
HELLO: Any = [{"role": "user", "content": "hello"}]


def azure_only() -> Catalog:
    """The shipped catalog's Azure provider and a few of its models, Azure endpoints only."""
    shipped = load_packaged_catalog()
    models = {
        mid: dataclasses.replace(
            shipped.models[mid],
            endpoints=tuple(e for e in shipped.models[mid].endpoints if e.provider.id == "azure"),
        )
        for mid in (CHAT, UNMAPPED, IMAGE, EMBED, "openai/gpt-4o-mini")
    }
    return Catalog({"azure": shipped.providers["azure"]}, models)


def azure_conf(fake: FakeAzure, base_url: str, **extra: Any) -> dict[str, Any]:
    """The operator's ``[providers.azure]``; the fake's loopback origin is attested, as an
    operator attests a proxy of their own."""
    origin = f"http://127.0.0.1:{fake.port}"
    return {
        "base_url": base_url,
        "api_key": KEY,
        "zdr_attestation": {**ATTESTED, "origins": [origin]},
        "deployments": DEPLOYMENTS,
        **extra,
    }


def start(make_gateway: GatewayFactory, conf: dict[str, Any]) -> RunningGateway:
    return make_gateway({"azure": conf}, catalog=azure_only())


def sdk(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.v1, api_key=gateway.key, max_retries=0)


# ---------------------------------------------------------------- addressing


def test_deployment_path_api(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    gateway = start(make_gateway, azure_conf(azure, azure.base_url))
    with sdk(gateway) as client:
        raw = client.chat.completions.with_raw_response.create(model=CHAT, messages=HELLO)
    result = raw.parse()
    assert result.choices[0].message.content == "echo: hello"
    assert raw.headers["x-zdr-endpoint"] == "azure/gpt-4o"
    call = azure.calls[-1]
    assert call.path == "/openai/deployments/ok/chat/completions"
    assert call.query == {"api-version": "2024-10-21"}
    assert call.headers["api-key"] == KEY and "Authorization" not in call.headers
    assert call.body["model"] == "ok"
    assert "store" not in call.body  # dated versions refuse it; storing is off by default


def test_v1_api_sends_the_deployment_as_model(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    gateway = start(make_gateway, azure_conf(azure, azure.v1_url))
    with sdk(gateway) as client:
        result = client.chat.completions.create(model=CHAT, messages=HELLO)
        chunks = list(client.chat.completions.create(model=CHAT, messages=HELLO, stream=True))
    assert result.choices[0].message.content == "echo: hello"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three echo: hello"
    first, streamed = azure.calls[-2:]
    assert first.path == streamed.path == "/openai/v1/chat/completions"
    assert first.query == {} and first.body["model"] == "ok"
    assert first.body["store"] is False


def test_configured_api_version_is_sent(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    conf = azure_conf(azure, azure.base_url, api_version="2025-04-01-preview")
    with sdk(start(make_gateway, conf)) as client:
        client.chat.completions.create(model=CHAT, messages=HELLO)
    assert azure.calls[-1].query == {"api-version": "2025-04-01-preview"}


def test_entra_id_token_travels_as_a_bearer(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    conf = azure_conf(azure, azure.base_url, auth="bearer", api_key_env="AZURE_OPENAI_AD_TOKEN")
    del conf["api_key"]
    gateway = make_gateway(
        {"azure": conf}, catalog=azure_only(), environ={"AZURE_OPENAI_AD_TOKEN": ENTRA_TOKEN}
    )
    with sdk(gateway) as client:
        result = client.chat.completions.create(model=CHAT, messages=HELLO)
    assert result.choices[0].message.content == "echo: hello"
    headers = azure.calls[-1].headers
    assert headers["Authorization"] == f"Bearer {ENTRA_TOKEN}" and "api-key" not in headers


@pytest.mark.parametrize("api", ["deployments", "v1"])
def test_images_and_embeddings(api: str, azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    base = azure.base_url if api == "deployments" else azure.v1_url
    with sdk(start(make_gateway, azure_conf(azure, base))) as client:
        image = client.images.generate(model=IMAGE, prompt="a red fox")
        vectors = client.embeddings.create(model=EMBED, input=["one", "two"])
    assert image.data and image.data[0].b64_json
    assert [e.embedding for e in vectors.data] == [[0.5, -0.25, 0.125]] * 2
    painted, embedded = azure.calls[-2:]
    if api == "deployments":
        assert painted.path == "/openai/deployments/painter/images/generations"
        assert embedded.path == "/openai/deployments/embedder/embeddings"
        assert painted.query == embedded.query == {"api-version": "2024-10-21"}
    else:
        assert painted.path == "/openai/v1/images/generations"
        assert embedded.path == "/openai/v1/embeddings"
    assert painted.body["model"] == "painter" and embedded.body["model"] == "embedder"
    assert "response_format" not in painted.body  # gpt-image answers in base64 only


# ---------------------------------------------------------------- content filter


def test_content_filter_block_is_an_openai_error_without_the_body(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    conf = azure_conf(azure, azure.base_url, deployments={CHAT: "blocked"})
    gateway = start(make_gateway, conf)
    body = {"model": CHAT, "messages": [{"role": "user", "content": "secret-prompt-771"}]}
    for stream in (False, True):
        response = httpx.post(
            gateway.v1 + "/chat/completions", json={**body, "stream": stream},
            headers=gateway.auth(), timeout=30,
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "content_filter"
        assert error["type"] == "invalid_request_error"
        assert "secret-prompt-771" not in response.text
        assert "ResponsibleAIPolicyViolation" not in response.text
        assert "severity" not in response.text


def test_output_filter_keeps_openai_finish_reason_and_drops_annotations(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    conf = azure_conf(azure, azure.base_url, deployments={CHAT: "filtered"})
    gateway = start(make_gateway, conf)
    response = httpx.post(
        gateway.v1 + "/chat/completions", json={"model": CHAT, "messages": HELLO},
        headers=gateway.auth(), timeout=30,
    )
    answer = response.json()
    assert answer["choices"][0]["finish_reason"] == "content_filter"
    assert "prompt_filter_results" not in answer
    assert "content_filter_results" not in answer["choices"][0]


def test_stream_drops_filter_only_chunks(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    gateway = start(make_gateway, azure_conf(azure, azure.base_url))
    body = {"model": CHAT, "messages": HELLO, "stream": True}
    with httpx.stream(
        "POST", gateway.v1 + "/chat/completions", json=body, headers=gateway.auth(), timeout=30
    ) as response:
        lines = [x[6:] for x in response.iter_lines() if x.startswith("data: {")]
    chunks = [json.loads(x) for x in lines]
    assert chunks and all(c["choices"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert not any("filter" in x for x in lines)


# ---------------------------------------------------------------- routability


def served(conf: dict[str, Any]) -> Catalog:
    return build_catalog(
        load_packaged_catalog(), parse_settings({"providers": {"azure": conf}}), {}, today=TODAY
    )


def reasons(catalog: Catalog, model_id: str) -> set[Reason]:
    decision = PolicyEngine(180).decide(catalog.models[model_id], TODAY)
    found = [r for r in decision.rejections if r.endpoint.provider.id == "azure"]
    return set(found[0].reasons) if found else set()


CONFIGURED = {
    "api_key": "k",
    "zdr_attestation": ATTESTED,
    "base_url": "https://my-resource.openai.azure.com/openai/v1",
    "deployments": {CHAT: "gpt4o-prod"},
}


def test_a_model_without_a_deployment_is_unroutable_on_azure() -> None:
    catalog = served(CONFIGURED)
    assert reasons(catalog, CHAT) == set()
    assert reasons(catalog, UNMAPPED) == {Reason.DEPLOYMENT_NOT_MAPPED}
    endpoint = next(e for e in catalog.models[CHAT].endpoints if e.provider.id == "azure")
    assert (endpoint.upstream_id, endpoint.deployment) == ("gpt-4o", "gpt4o-prod")


def test_unconfigured_azure_fails_closed() -> None:
    assert reasons(served({"api_key": "k", "zdr_attestation": ATTESTED}), CHAT) == {
        Reason.UPSTREAM_NOT_CONFIGURED,
        Reason.DEPLOYMENT_NOT_MAPPED,
    }


@pytest.mark.parametrize(
    ("host", "covered"),
    [
        ("my-resource.openai.azure.com", True),
        ("my-resource.cognitiveservices.azure.com", True),
        ("my-resource.openai.azure.com.evil.example", False),
        ("my-resource.services.ai.azure.com", False),
    ],
)
def test_resource_hosts_the_record_covers(host: str, covered: bool) -> None:
    catalog = served({**CONFIGURED, "base_url": f"https://{host}/openai"})
    expected = set() if covered else {Reason.ORIGIN_NOT_ATTESTED}
    assert reasons(catalog, CHAT) == expected


def test_explain_names_the_missing_deployment(tmp_path: Any) -> None:
    config = tmp_path / "z.toml"
    config.write_text(
        '[providers.azure]\napi_key = "k"\n'
        'base_url = "https://my-resource.openai.azure.com/openai/v1"\n'
        'zdr_attestation = { reference = "ZDR", attested_on = "2026-11-02" }\n'
        '[providers.azure.deployments]\n"openai/gpt-4o" = "gpt4o-prod"\n'
    )
    result = CliRunner().invoke(main, ["explain", UNMAPPED, "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["endpoints"]
    row = next(r for r in rows if r["endpoint"] == "azure/gpt-4.1")
    assert row["reasons"] == "deployment_not_mapped"
    result = CliRunner().invoke(main, ["explain", CHAT, "--config", str(config), "--json"])
    rows = json.loads(result.output)["endpoints"]
    row = next(r for r in rows if r["endpoint"] == "azure/gpt-4o")
    assert (row["routable"], row["deployment"]) == ("yes", "gpt4o-prod")


def test_404_names_the_deployment_setting(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    gateway = start(make_gateway, azure_conf(azure, azure.base_url))
    response = httpx.post(
        gateway.v1 + "/chat/completions", json={"model": UNMAPPED, "messages": HELLO},
        headers=gateway.auth(), timeout=30,
    )
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "deployment_not_mapped" in message and "providers.azure.deployments" in message
    assert not any(c.body.get("model") == "gpt-4.1" for c in azure.calls)


@pytest.mark.parametrize(
    ("conf", "match"),
    [
        ({"deployments": {"openai/no-such-model": "x"}}, "not a model this provider serves"),
        ({"deployments": {CHAT: "../admin"}}, "not a deployment name"),
        ({"api_version": "2024-10-21&x=1"}, "api_version"),
    ],
)
def test_bad_azure_settings_are_refused(conf: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        served({**CONFIGURED, **conf})


def test_deployments_only_for_azure() -> None:
    settings = parse_settings({"providers": {"openai": {"deployments": {CHAT: "x"}}}})
    with pytest.raises(ConfigError, match=r"providers\.openai\.deployments"):
        build_catalog(load_packaged_catalog(), settings, {}, today=TODAY)


def test_classifier_reads_the_filter_from_innererror_only() -> None:
    from zdrgate.protocols.azure_openai.errors import classify  # noqa: PLC0415

    inner = {"error": {"code": "BadRequest", "message": "my prompt", "innererror": {
        "code": "ResponsibleAIPolicyViolation", "content_filter_result": {}}}}
    info = classify(400, {}, json.dumps(inner).encode())
    assert (info.code, info.kind.value) == ("content_filter", "bad_request")
    assert classify(400, {}, b'{"error": {"code": "BadRequest"}}').code is None
