"""Reading the packaged catalog file into typed records.

File shape (``schema_version`` 1), written by ``scripts/build_catalog.py``::

    {
      "schema_version": 1,
      "policies": {"groq": {<policy record>}, "google-ai-studio-free": {...}},
      "providers": {"groq": {"name", "protocol", "base_url", "api_key_env",
                             "regional_base_urls": {"eu": url}, "policy": "groq",
                             "asset_origins"?: ["https://cdn.example"],
                             "requires_base_url"?: true,
                             "base_url_hosts"?: ["*.openai.azure.com"],
                             "requires_deployment"?: true}},
      "models": [{"id", "name", "context_length", "input_modalities",
                  "output_modalities", "description", "created",
                  "endpoints": [{"provider", "upstream_id", "policy"?, "region"?, "protocol"?,
                                 "context_length", "max_output_tokens",
                                 "input_modalities", "output_modalities",
                                 "capabilities", "prompt_price", "completion_price",
                                 "image_price"}]}]
    }

An endpoint without ``policy`` has its provider's record. A provider with
``requires_base_url`` ships a placeholder URL: its endpoints are unroutable
(``upstream_not_configured``) until the operator sets ``base_url`` to a host that
``base_url_hosts`` matches. A provider with ``requires_deployment`` (Azure OpenAI)
reaches a model through a deployment the operator names: an endpoint whose model the
config maps to no deployment is unroutable (``deployment_not_mapped``). An endpoint
with ``protocol`` speaks it instead of its provider's (``responses``: a model OpenAI
serves only on the Responses API); the protocol table must pair the two.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Any

import orjson

from zdrgate.catalog.model import (
    Attestation,
    Auth,
    Catalog,
    Confidence,
    Endpoint,
    Model,
    PolicyRecord,
    Protocol,
    Provider,
    ZdrAvailability,
)
from zdrgate.errors import ConfigError

SCHEMA_VERSION = 1


def packaged_catalog_bytes() -> bytes:
    return resources.files("zdrgate.catalog").joinpath("data/catalog.json").read_bytes()


def load_packaged_catalog() -> Catalog:
    """The catalog shipped in the package."""
    return parse_catalog(orjson.loads(packaged_catalog_bytes()))


def parse_catalog(raw: dict[str, Any]) -> Catalog:
    """The catalog of a catalog document; :class:`ConfigError` for any malformed one."""
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(f"catalog schema_version must be {SCHEMA_VERSION}")
    try:
        return _parse_catalog(raw)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"the catalog is malformed ({type(exc).__name__}: {exc})") from exc


def _parse_catalog(raw: dict[str, Any]) -> Catalog:
    policies = {key: parse_policy(value) for key, value in raw["policies"].items()}
    providers = {
        pid: parse_provider(pid, value, policies) for pid, value in raw["providers"].items()
    }
    models: dict[str, Model] = {}
    for item in raw["models"]:
        model = parse_model(item, providers, policies)
        if model.id in models:
            raise ConfigError(f"catalog lists model {model.id!r} twice")
        models[model.id] = model
    return Catalog(providers=providers, models=models)


def parse_policy(raw: dict[str, Any]) -> PolicyRecord:
    verified = raw.get("verified_on")
    attestation = raw.get("attestation")
    return PolicyRecord(
        retention_days=raw.get("retention_days"),
        trains_on_data=raw.get("trains_on_data"),
        zdr=ZdrAvailability(raw.get("zdr", "unknown")),
        evidence=tuple(raw.get("evidence", ())),
        verified_on=dt.date.fromisoformat(verified) if verified else None,
        confidence=Confidence(raw.get("confidence", "unknown")),
        conditions=tuple(raw.get("conditions", ())),
        notes=raw.get("notes", ""),
        attestation=parse_attestation(attestation) if attestation else None,
    )


def parse_attestation(raw: dict[str, Any]) -> Attestation:
    return Attestation(
        reference=str(raw["reference"]),
        attested_on=dt.date.fromisoformat(str(raw["attested_on"])),
    )


def parse_provider(pid: str, raw: dict[str, Any], policies: dict[str, PolicyRecord]) -> Provider:
    return Provider(
        id=pid,
        name=raw.get("name", pid),
        protocol=Protocol(raw["protocol"]),
        base_url=raw["base_url"].rstrip("/"),
        api_key_env=raw.get("api_key_env", ""),
        policy=policies[raw.get("policy", pid)],
        regional_base_urls=tuple(sorted(raw.get("regional_base_urls", {}).items())),
        auth=Auth(raw["auth"]) if raw.get("auth") else None,
        asset_origins=tuple(raw.get("asset_origins", ())),
        requires_base_url=bool(raw.get("requires_base_url", False)),
        base_url_hosts=tuple(raw.get("base_url_hosts", ())),
        requires_deployment=bool(raw.get("requires_deployment", False)),
    )


def parse_model(
    raw: dict[str, Any], providers: dict[str, Provider], policies: dict[str, PolicyRecord]
) -> Model:
    model_id = raw["id"]
    endpoints = tuple(parse_endpoint(model_id, e, providers, policies) for e in raw["endpoints"])
    return Model(
        id=model_id,
        name=raw.get("name", model_id),
        endpoints=endpoints,
        context_length=raw.get("context_length"),
        input_modalities=tuple(raw.get("input_modalities", ("text",))),
        output_modalities=tuple(raw.get("output_modalities", ("text",))),
        description=raw.get("description", ""),
        created=raw.get("created", 0),
    )


def parse_endpoint(
    model_id: str,
    raw: dict[str, Any],
    providers: dict[str, Provider],
    policies: dict[str, PolicyRecord],
) -> Endpoint:
    provider = providers[raw["provider"]]
    policy_key = raw.get("policy")
    return Endpoint(
        model_id=model_id,
        provider=provider,
        upstream_id=raw["upstream_id"],
        policy=policies[policy_key] if policy_key else provider.policy,
        context_length=raw.get("context_length"),
        max_output_tokens=raw.get("max_output_tokens"),
        input_modalities=tuple(raw.get("input_modalities", ("text",))),
        output_modalities=tuple(raw.get("output_modalities", ("text",))),
        capabilities=frozenset(raw.get("capabilities", ())),
        prompt_price=raw.get("prompt_price"),
        completion_price=raw.get("completion_price"),
        image_price=raw.get("image_price"),
        region=raw.get("region"),
        protocol=Protocol(raw["protocol"]) if "protocol" in raw else None,
    )
