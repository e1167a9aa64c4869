"""An attestation covers records that need an agreement, nothing else (finding 4)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from conftest import TODAY
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog, Endpoint, ZdrAvailability
from zdrgate.config import parse_settings
from zdrgate.policy import PolicyEngine
from zdrgate.reports import explain_rows

ATTESTED = {"reference": "ZDR amendment", "attested_on": "2026-11-02"}


def attested(base: Catalog) -> Catalog:
    conf = {"api_key": "k", "zdr_attestation": ATTESTED}
    settings = parse_settings({"providers": {"openai": conf}})
    return build_catalog(base, settings, {}, today=TODAY)


def openai_endpoint(catalog: Catalog, model_id: str) -> Endpoint:
    return next(
        e for e in catalog.models[model_id].endpoints
        if e.provider.id == "openai" and e.region is None
    )


def test_endpoint_record_that_offers_no_zdr_keeps_no_attestation() -> None:
    shipped = load_packaged_catalog()
    catalog = attested(shipped)
    dalle = openai_endpoint(catalog, "openai/dall-e-3")
    assert dalle.policy.zdr is ZdrAvailability.NONE
    assert dalle.policy.attestation is None
    assert dalle.policy.digest() == openai_endpoint(shipped, "openai/dall-e-3").policy.digest()
    row = next(
        r for r in explain_rows(catalog.models["openai/dall-e-3"], PolicyEngine(180), TODAY)
        if r["endpoint"] == dalle.id
    )
    assert row["zdr"] == "none" and row["routable"] == "no"


def test_endpoint_record_that_needs_an_agreement_gets_it() -> None:
    shipped = load_packaged_catalog()
    model = shipped.models["openai/gpt-4o-mini"]
    own = dataclasses.replace(shipped.providers["openai"].policy, notes="an endpoint's own")
    endpoints = tuple(
        dataclasses.replace(e, policy=own) if e.provider.id == "openai" else e
        for e in model.endpoints
    )
    base = Catalog(shipped.providers, {model.id: dataclasses.replace(model, endpoints=endpoints)})
    policy = openai_endpoint(attested(base), model.id).policy
    assert policy.attestation is not None
    assert policy.attestation.attested_on == dt.date(2026, 11, 2)
