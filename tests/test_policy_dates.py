"""Dates the policy relies on: none in the future, attestations age (finding 3)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from conftest import TODAY, ZDR_POLICY, chat_model, provider
from zdrgate.catalog.check import FindingKind, check_catalog
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Attestation, Catalog, Model, PolicyRecord, ZdrAvailability
from zdrgate.config import parse_settings
from zdrgate.errors import ConfigError
from zdrgate.policy import PolicyEngine, Reason

DAY = dt.timedelta(days=1)


def merged(providers: dict[str, Any], base: Catalog | None = None) -> Catalog:
    settings = parse_settings({"providers": providers})
    return build_catalog(base or Catalog({}, {}), settings, {}, today=TODAY)


def test_future_verified_on_is_refused_at_load() -> None:
    policy = {**ZDR_POLICY, "verified_on": (TODAY + 30 * DAY).isoformat()}
    with pytest.raises(ConfigError, match=r"providers\.my\.policy\.verified_on.*future"):
        merged({"my": provider("http://127.0.0.1:9/v1", [chat_model()], policy)})


def test_tomorrow_is_tolerated_for_time_zones() -> None:
    policy = {**ZDR_POLICY, "verified_on": (TODAY + DAY).isoformat()}
    merged({"my": provider("http://127.0.0.1:9/v1", [chat_model()], policy)})


def test_future_attested_on_is_refused_at_load() -> None:
    attestation = {"reference": "r", "attested_on": (TODAY + 30 * DAY).isoformat()}
    with pytest.raises(ConfigError, match=r"providers\.openai\.zdr_attestation\.attested_on"):
        merged({"openai": {"zdr_attestation": attestation}}, load_packaged_catalog())


def by_agreement(attested_on: dt.date) -> PolicyRecord:
    record = load_packaged_catalog().providers["openai"].policy
    assert record.zdr is ZdrAvailability.BY_AGREEMENT
    return dataclasses.replace(
        record, verified_on=TODAY - DAY, attestation=Attestation("r", attested_on)
    )


def reasons(record: PolicyRecord) -> set[Reason]:
    base = merged({"p": provider("https://p.example/v1", [chat_model()])})
    endpoint = base.models["test/chat"].endpoints[0]
    endpoint = dataclasses.replace(endpoint, policy=record)
    decision = PolicyEngine(180).decide(Model("test/chat", "m", (endpoint,)), TODAY)
    return set(decision.rejections[0].reasons) if decision.rejections else set()


def test_an_attestation_ages_like_a_verification() -> None:
    assert reasons(by_agreement(TODAY - 180 * DAY)) == set()
    stale = reasons(by_agreement(TODAY - 181 * DAY))
    assert Reason.STALE_ATTESTATION in stale  # and OpenAI's 30-day retention is back
    assert Reason.AGREEMENT_NOT_ATTESTED not in stale


def test_a_future_record_date_is_not_fresh_forever() -> None:
    record = dataclasses.replace(by_agreement(TODAY), verified_on=TODAY + 400 * DAY)
    assert Reason.STALE_VERIFICATION in reasons(record)
    record = by_agreement(TODAY + 400 * DAY)
    assert Reason.STALE_ATTESTATION in reasons(record)


def test_approval_expires_with_the_attestation() -> None:
    record = by_agreement(TODAY - 170 * DAY)
    base = merged({"p": provider("https://p.example/v1", [chat_model()])})
    endpoint = dataclasses.replace(base.models["test/chat"].endpoints[0], policy=record)
    decision = PolicyEngine(180).decide(Model("test/chat", "m", (endpoint,)), TODAY)
    assert decision.approvals[0].expires_on == TODAY + 10 * DAY


def test_catalog_check_flags_a_future_date_in_shipped_data() -> None:
    shipped = load_packaged_catalog()
    future = dataclasses.replace(
        shipped.providers["groq"].policy, verified_on=TODAY + 30 * DAY
    )
    providers = {**shipped.providers}
    providers["groq"] = dataclasses.replace(providers["groq"], policy=future)
    findings = check_catalog(Catalog(providers, {}), TODAY, 180)
    assert [f.kind for f in findings if f.policy == "groq"] == [FindingKind.FUTURE_DATE]
    assert not [f for f in check_catalog(shipped, TODAY, 180) if f.kind == "future_date"]
