"""Where a request may go: placeholder URLs, base_url overrides, plain http.

Findings 1 and 2 of the hardening review (docs/security.md).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import TODAY, GatewayFactory, chat_model, provider
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.cli import main
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.policy import PolicyEngine, Reason

ATTESTED = {"reference": "ZDR amendment", "attested_on": "2026-11-02"}
AZURE_MODEL = "openai/gpt-4o-mini"
DEPLOYED = {AZURE_MODEL: "mini-prod"}  # Azure reaches a model through a named deployment


def served(providers: dict[str, Any]) -> Catalog:
    return build_catalog(
        load_packaged_catalog(), parse_settings({"providers": providers}), {}, today=TODAY
    )


def reasons_of(catalog: Catalog, model_id: str, provider_id: str) -> set[Reason]:
    decision = PolicyEngine(180).decide(catalog.models[model_id], TODAY)
    for rejection in decision.rejections:
        if rejection.endpoint.provider.id == provider_id:
            return set(rejection.reasons)
    assert any(a.endpoint.provider.id == provider_id for a in decision.approvals)
    return set()


def test_placeholder_providers_are_marked_in_the_shipped_catalog() -> None:
    providers = load_packaged_catalog().providers
    marked = {pid for pid, p in providers.items() if p.requires_base_url}
    assert marked == {
        "azure",
        "azure-anthropic",
        "google-vertex",
        "google-vertex-anthropic",
        "google-vertex-maas",
    }
    for pid, shipped in providers.items():
        urls = [shipped.base_url, *dict(shipped.regional_base_urls).values()]
        if any("YOUR-" in url for url in urls):
            assert pid in marked


def test_placeholder_url_is_unroutable_even_attested_with_a_key() -> None:
    conf = {"api_key": "k", "zdr_attestation": ATTESTED, "deployments": DEPLOYED}
    catalog = served({"azure": conf})
    assert reasons_of(catalog, AZURE_MODEL, "azure") == {Reason.UPSTREAM_NOT_CONFIGURED}


def test_setting_base_url_makes_it_routable() -> None:
    conf = {
        "api_key": "k",
        "zdr_attestation": ATTESTED,
        "base_url": "https://my-resource.openai.azure.com/openai/v1",
        "deployments": DEPLOYED,
    }
    assert reasons_of(served({"azure": conf}), AZURE_MODEL, "azure") == set()


def test_vertex_placeholder_is_unroutable() -> None:
    catalog = served({"google-vertex": {"api_key": "k", "zdr_attestation": ATTESTED}})
    model = next(
        m for m in catalog.models.values()
        if any(e.provider.id == "google-vertex" for e in m.endpoints)
    )
    assert Reason.UPSTREAM_NOT_CONFIGURED in reasons_of(catalog, model.id, "google-vertex")


def test_explain_shows_upstream_not_configured(tmp_path: Any) -> None:
    config = tmp_path / "z.toml"
    config.write_text('[providers.azure]\napi_key = "k"\n')
    result = CliRunner().invoke(main, ["explain", AZURE_MODEL, "--config", str(config)])
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("azure/"))
    assert "upstream_not_configured" in line


def test_404_names_the_reason_and_the_setting(make_gateway: GatewayFactory) -> None:
    shipped = load_packaged_catalog()
    model = shipped.models[AZURE_MODEL]
    only_azure = Catalog(
        {"azure": shipped.providers["azure"]},
        {AZURE_MODEL: _with_endpoints(model, "azure")},
    )
    gw = make_gateway(
        {"azure": {"api_key": "k", "zdr_attestation": ATTESTED}}, catalog=only_azure
    )
    body = {"model": AZURE_MODEL, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "upstream_not_configured" in message
    assert "providers.azure.base_url" in message


def _with_endpoints(model: Any, provider_id: str) -> Any:
    import dataclasses  # noqa: PLC0415

    endpoints = tuple(e for e in model.endpoints if e.provider.id == provider_id)
    return dataclasses.replace(model, endpoints=endpoints)



# ---------------------------------------------------------------- base_url overrides

OPENAI_MODEL = "openai/gpt-4o-mini"


def openai_conf(base_url: str, origins: list[str] | None = None) -> dict[str, Any]:
    attestation = {**ATTESTED, **({"origins": origins} if origins is not None else {})}
    return {"api_key": "k", "zdr_attestation": attestation, "base_url": base_url}


def test_override_to_another_host_needs_an_attestation_of_that_origin() -> None:
    catalog = served({"openai": openai_conf("https://llm-proxy.corp.example/v1")})
    assert reasons_of(catalog, OPENAI_MODEL, "openai") == {Reason.ORIGIN_NOT_ATTESTED}


def test_attested_origin_is_routable() -> None:
    conf = openai_conf("https://llm-proxy.corp.example/v1", ["https://llm-proxy.corp.example"])
    assert reasons_of(served({"openai": conf}), OPENAI_MODEL, "openai") == set()


def test_catalog_regional_host_needs_no_more() -> None:
    conf = openai_conf("https://eu.api.openai.com/v1")
    assert reasons_of(served({"openai": conf}), OPENAI_MODEL, "openai") == set()


def test_other_port_of_the_catalog_host_is_another_origin() -> None:
    conf = openai_conf("https://api.openai.com:8443/v1")
    assert reasons_of(served({"openai": conf}), OPENAI_MODEL, "openai") == {
        Reason.ORIGIN_NOT_ATTESTED
    }


def test_placeholder_provider_host_must_match_the_catalog_pattern() -> None:
    good = {**openai_conf("https://mine.openai.azure.com/openai/v1"), "deployments": DEPLOYED}
    bad = {
        **openai_conf("https://mine.openai.azure.com.evil.example/openai/v1"),
        "deployments": DEPLOYED,
    }
    assert reasons_of(served({"azure": good}), AZURE_MODEL, "azure") == set()
    assert reasons_of(served({"azure": bad}), AZURE_MODEL, "azure") == {
        Reason.ORIGIN_NOT_ATTESTED
    }


@pytest.mark.parametrize(
    "conf",
    [
        {"base_url": "http://api.openai.com/v1"},  # a catalog provider in clear text
        {"base_url": "http://127.0.0.1:9/v1"},  # loopback, but the origin is not attested
        {"base_url": "http://8.8.8.8/v1", "zdr_attestation": {**ATTESTED, "origins": [
            "http://8.8.8.8"]}},  # attested, but public
        {"base_url": "ftp://api.openai.com/v1"},
        {"base_url": "https://user:pw@api.openai.com/v1"},
        {"base_url": "https://api.openai.com/v1?x=1"},
    ],
)
def test_catalog_provider_overrides_refused_at_load(conf: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"providers\.openai\.base_url"):
        served({"openai": {"api_key": "k", **conf}})


def test_attested_loopback_test_double_is_allowed() -> None:
    conf = openai_conf("http://127.0.0.1:9/v1", ["http://127.0.0.1:9"])
    assert reasons_of(served({"openai": conf}), OPENAI_MODEL, "openai") == set()


def custom(base_url: str) -> dict[str, Any]:
    return {"my": provider(base_url, [chat_model()])}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://[::1]:8000/v1",
        "http://10.0.0.5:8000/v1",
        "http://192.168.1.20/v1",
        "http://localhost:11434/v1",
        "http://vllm:8000/v1",  # a container or Kubernetes service name
        "http://gpu-box.internal/v1",
        "https://api.example.com/v1",
    ],
)
def test_self_hosted_may_use_http_on_private_addresses(url: str) -> None:
    catalog = served(custom(url))
    assert reasons_of(catalog, "test/chat", "my") == set()


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/v1",
        "http://api.example.com/v1",
        "http://169.254.169.254/latest",  # cloud metadata is link-local, not private
        "http://0.0.0.0:8000/v1",
        "http://[::ffff:8.8.8.8]/v1",
        "file:///etc/passwd",
        "https://exa mple.com/v1",
    ],
)
def test_self_hosted_plain_http_to_public_hosts_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"providers\.my\.base_url"):
        served(custom(url))


def test_receipt_names_the_origin(upstream: Any, make_gateway: GatewayFactory) -> None:
    gw = make_gateway({"zdr": provider(upstream.base_url, [chat_model()])})
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    assert response.status_code == 200
    expected = upstream.base_url.split("/v1")[0]
    assert response.headers["x-zdr-origin"] == expected
    listing = httpx.get(gw.v1 + "/models/test/chat/endpoints", headers=gw.auth()).json()
    assert listing["data"]["endpoints"][0]["origin"] == expected


def test_signed_receipt_names_the_origin(upstream: Any, make_gateway: GatewayFactory) -> None:
    from test_receipts_e2e import pyjwt_claims  # noqa: PLC0415

    gw = make_gateway({"zdr": provider(upstream.base_url, [chat_model()])})
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
    claims = pyjwt_claims(gw, response.headers["zdr-receipt"])
    assert claims["origin"] == upstream.base_url.split("/v1")[0]
