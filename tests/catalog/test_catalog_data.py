"""Spot checks of the shipped catalog data (the policy records, ids and coverage)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter

import orjson
import pytest

from zdrgate.catalog.load import load_packaged_catalog, packaged_catalog_bytes, parse_policy
from zdrgate.catalog.model import Catalog, Confidence, PolicyRecord, ZdrAvailability

TODAY = dt.date(2026, 11, 27)
ZDR_CAPABLE = {ZdrAvailability.DEFAULT, ZdrAvailability.SELF_SERVE, ZdrAvailability.BY_AGREEMENT}
CAPABILITIES = {"tools", "vision", "structured_output", "reasoning", "image_output", "embeddings"}
DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{2}-\d{2}|\d{2}-\d{4}|\d{4})$")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_packaged_catalog()


def all_records(catalog: Catalog) -> list[PolicyRecord]:
    records = [p.policy for p in catalog.providers.values()]
    records += [e.policy for m in catalog.models.values() for e in m.endpoints]
    return records


def near_duplicate_key(model_id: str) -> str:
    key = model_id.lower().split(":")[0]
    while True:
        stripped = DATE_SUFFIX.sub("", key).removesuffix("-instruct")
        if stripped == key:
            return key.replace(".", "-")
        key = stripped


def records_of(catalog: Catalog, provider: str) -> set[PolicyRecord]:
    return {
        e.policy for m in catalog.models.values() for e in m.endpoints if e.provider.id == provider
    }


def routable_without_attestation(record: PolicyRecord) -> bool:
    """The engine's record rules for an endpoint with credentials and no attestation."""
    return (
        record.retention_days == 0
        and record.trains_on_data is False
        and bool(record.evidence)
        and record.verified_on is not None
        and (TODAY - record.verified_on).days <= 180
        and record.confidence in (Confidence.HIGH, Confidence.MEDIUM)
        and record.zdr in (ZdrAvailability.DEFAULT, ZdrAvailability.SELF_SERVE)
    )


def test_every_record_has_evidence_date_and_confidence(catalog: Catalog) -> None:
    for record in all_records(catalog):
        assert record.evidence, record
        assert all(e.startswith("https://") for e in record.evidence)
        assert record.verified_on is not None
        assert (TODAY - record.verified_on).days <= 180
        assert record.confidence is not None


def test_coverage(catalog: Catalog) -> None:
    capable = [
        m for m in catalog.models.values() if any(e.policy.zdr in ZDR_CAPABLE for e in m.endpoints)
    ]
    assert len(capable) >= 300
    direct = [
        m
        for m in capable
        if any(e.policy.zdr in ZDR_CAPABLE and e.provider.id != "openrouter" for e in m.endpoints)
    ]
    assert len(direct) >= 200  # not only through OpenRouter
    providers = {e.provider.id for m in catalog.models.values() for e in m.endpoints}
    assert len(providers) >= 15
    for required in (
        "openai",
        "anthropic",
        "google-ai-studio",
        "google-vertex",
        "amazon-bedrock",
        "azure",
        "xai",
        "mistral",
        "groq",
        "together",
        "fireworks",
        "deepinfra",
        "cerebras",
        "nebius",
        "openrouter",
    ):
        assert required in providers, required


def test_public_ids_have_openrouter_form_and_no_near_duplicates(catalog: Catalog) -> None:
    for model_id in catalog.models:
        assert re.fullmatch(r"[a-z0-9-]+/[a-z0-9][a-z0-9.\-]*", model_id), model_id
    keys = Counter(near_duplicate_key(m) for m in catalog.models)
    assert [k for k, n in keys.items() if n > 1] == []


def test_every_endpoint_belongs_to_exactly_one_model(catalog: Catalog) -> None:
    owners = Counter(e.id for m in catalog.models.values() for e in m.endpoints)
    assert [eid for eid, n in owners.items() if n > 1] == []
    for model in catalog.models.values():
        assert model.endpoints, model.id
        assert all(e.model_id == model.id for e in model.endpoints)
        slots = [(e.provider.id, e.region) for e in model.endpoints]
        assert len(slots) == len(set(slots)), model.id


def test_endpoint_fields(catalog: Catalog) -> None:
    for model in catalog.models.values():
        for e in model.endpoints:
            assert e.capabilities <= CAPABILITIES, e.id
            assert e.base_url.startswith("https://"), e.id
            assert e.output_modalities, e.id
            if e.region:
                assert e.region in dict(e.provider.regional_base_urls), e.id


def test_openai_needs_an_attestation(catalog: Catalog) -> None:
    record = catalog.providers["openai"].policy
    assert record.zdr is ZdrAvailability.BY_AGREEMENT
    assert record.retention_days == 30
    assert record.trains_on_data is False
    gpt = catalog.models["openai/gpt-4o"]
    assert any(e.provider.id == "openai" and e.policy is record for e in gpt.endpoints)
    assert any(e.provider.id == "openai" and e.region == "eu" for e in gpt.endpoints)


def test_dalle_is_never_routable(catalog: Catalog) -> None:
    for model_id in ("openai/dall-e-2", "openai/dall-e-3"):
        for endpoint in catalog.models[model_id].endpoints:
            assert endpoint.policy.zdr is ZdrAvailability.NONE
            assert endpoint.policy.retention_days != 0
    image = catalog.models["openai/gpt-image-1"]
    assert any(
        e.provider.id == "openai" and e.policy.zdr is ZdrAvailability.BY_AGREEMENT
        for e in image.endpoints
    )


def test_gemini_free_tier_is_never_routable(catalog: Catalog) -> None:

    free = parse_policy(orjson.loads(packaged_catalog_bytes())["policies"]["google-ai-studio-free"])
    assert free.trains_on_data is True
    assert free.zdr is ZdrAvailability.NONE
    assert not routable_without_attestation(free)
    paid = catalog.providers["google-ai-studio"].policy
    assert paid.trains_on_data is False and paid.retention_days == 55


def test_vertex_requires_caching_off(catalog: Catalog) -> None:
    record = catalog.providers["google-vertex"].policy
    assert any("disableCache" in c for c in record.conditions)
    assert catalog.providers["google-vertex-anthropic"].policy is record


@pytest.mark.parametrize(
    "provider", ["groq", "fireworks", "deepinfra", "cerebras", "amazon-bedrock"]
)
def test_zero_retention_providers_are_routable_with_credentials(
    catalog: Catalog, provider: str
) -> None:
    record = catalog.providers[provider].policy
    assert record.retention_days == 0
    assert record.trains_on_data is False
    assert routable_without_attestation(record)


def test_stricter_readings(catalog: Catalog) -> None:
    fable = catalog.models["anthropic/claude-fable-5"]
    for endpoint in fable.endpoints:
        if endpoint.provider.id in ("anthropic", "amazon-bedrock"):
            assert endpoint.policy.zdr is ZdrAvailability.NONE, endpoint.id
    assert catalog.providers["azure-anthropic"].policy.zdr is ZdrAvailability.UNKNOWN
    assert catalog.providers["xai"].policy.zdr is ZdrAvailability.ENTERPRISE
    assert catalog.providers["anthropic"].policy.retention_days == 30
    assert "Sources conflict:" in catalog.providers["anthropic"].policy.notes


def test_protocols_and_keys(catalog: Catalog) -> None:
    anthropic = catalog.providers["anthropic"]
    assert (anthropic.protocol.value, anthropic.base_url, anthropic.api_key_env) == (
        "anthropic",
        "https://api.anthropic.com/v1",
        "ANTHROPIC_API_KEY",
    )
    gemini = catalog.providers["google-ai-studio"]
    assert (gemini.protocol.value, gemini.base_url, gemini.api_key_env) == (
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        "GEMINI_API_KEY",
    )
    bedrock = catalog.providers["amazon-bedrock"]
    assert bedrock.api_key_env == "AWS_BEARER_TOKEN_BEDROCK"
    assert catalog.providers["openrouter"].policy.zdr is ZdrAvailability.SELF_SERVE


def test_engine_agrees(catalog: Catalog) -> None:
    engine = pytest.importorskip("zdrgate.policy.engine")
    record_reasons = getattr(engine, "record_reasons", None)
    if record_reasons is None:
        pytest.skip("policy engine has no record_reasons")
    assert record_reasons(catalog.providers["groq"].policy, TODAY, 180) == []
    assert record_reasons(catalog.providers["openai"].policy, TODAY, 180) != []
    dalle = catalog.models["openai/dall-e-3"].endpoints[0].policy
    assert record_reasons(dalle, TODAY, 180) != []


def test_loads_fast() -> None:
    start = time.perf_counter()
    load_packaged_catalog()
    assert time.perf_counter() - start < 1.0
