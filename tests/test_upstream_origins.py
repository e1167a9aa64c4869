"""Where a request may go: placeholder URLs, base_url overrides, plain http.

Findings 1 and 2 of the hardening review (docs/security.md).
"""

from __future__ import annotations

from typing import Any

import httpx
from click.testing import CliRunner

from conftest import TODAY, GatewayFactory
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.cli import main
from zdrgate.config import parse_settings
from zdrgate.policy import PolicyEngine, Reason

ATTESTED = {"reference": "ZDR amendment", "attested_on": "2026-11-02"}
AZURE_MODEL = "openai/gpt-4o-mini"


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
    for pid, provider in providers.items():
        urls = [provider.base_url, *dict(provider.regional_base_urls).values()]
        if any("YOUR-" in url for url in urls):
            assert pid in marked


def test_placeholder_url_is_unroutable_even_attested_with_a_key() -> None:
    catalog = served({"azure": {"api_key": "k", "zdr_attestation": ATTESTED}})
    assert reasons_of(catalog, AZURE_MODEL, "azure") == {Reason.UPSTREAM_NOT_CONFIGURED}


def test_setting_base_url_makes_it_routable() -> None:
    conf = {
        "api_key": "k",
        "zdr_attestation": ATTESTED,
        "base_url": "https://my-resource.openai.azure.com/openai/v1",
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

