from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from zdrgate.catalog.model import (
    Attestation,
    Confidence,
    Endpoint,
    Model,
    PolicyRecord,
    Protocol,
    Provider,
    ZdrAvailability,
)
from zdrgate.policy import Constraints, PolicyEngine, Reason, verify
from zdrgate.policy.approval import Approval, ForgedApproval

TODAY = dt.date(2026, 11, 27)
ZDR = PolicyRecord(
    0,
    False,
    ZdrAvailability.DEFAULT,
    ("https://x.invalid/dpa",),
    dt.date(2026, 11, 1),
    Confidence.HIGH,
)


def endpoint(
    policy: PolicyRecord = ZDR,
    key: str | None = "k",
    pid: str = "p",
    price: float = 1.0,
    caps: frozenset[str] = frozenset({"tools"}),
) -> Endpoint:
    provider = Provider(
        pid, pid.title(), Protocol.OPENAI, "https://p.invalid/v1", "P_KEY", policy, api_key=key
    )
    return Endpoint(
        "a/m", provider, "m", policy, prompt_price=price, completion_price=price, capabilities=caps
    )


def reasons(ep: Endpoint, constraints: Constraints = Constraints()) -> set[Reason]:
    decision = PolicyEngine(180).decide(Model("a/m", "M", (ep,)), TODAY, constraints)
    return set(decision.rejections[0].reasons) if decision.rejections else set()


def test_zdr_record_with_credentials_is_approved() -> None:
    assert reasons(endpoint()) == set()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"retention_days": 30}, Reason.RETAINS_DATA),
        ({"retention_days": None}, Reason.RETAINS_DATA),
        ({"trains_on_data": True}, Reason.TRAINS_ON_DATA),
        ({"trains_on_data": None}, Reason.TRAINS_ON_DATA),
        ({"evidence": ()}, Reason.NO_EVIDENCE),
        ({"verified_on": dt.date(2026, 5, 1)}, Reason.STALE_VERIFICATION),
        ({"verified_on": None}, Reason.STALE_VERIFICATION),
        ({"confidence": Confidence.LOW}, Reason.LOW_CONFIDENCE),
        ({"zdr": ZdrAvailability.NONE}, Reason.ZDR_NOT_OFFERED),
        ({"zdr": ZdrAvailability.UNKNOWN}, Reason.ZDR_NOT_OFFERED),
        ({"zdr": ZdrAvailability.BY_AGREEMENT}, Reason.AGREEMENT_NOT_ATTESTED),
    ],
)
def test_each_rule_rejects(change: dict[str, object], expected: Reason) -> None:
    assert expected in reasons(endpoint(dataclasses.replace(ZDR, **change)))  # type: ignore[arg-type]


def test_missing_credentials_rejects() -> None:
    assert reasons(endpoint(key=None)) == {Reason.NO_CREDENTIALS}


def test_attestation_makes_agreement_provider_routable() -> None:
    record = dataclasses.replace(ZDR, retention_days=30, zdr=ZdrAvailability.BY_AGREEMENT)
    assert Reason.AGREEMENT_NOT_ATTESTED in reasons(endpoint(record))
    attested = dataclasses.replace(record, attestation=Attestation("ZDR amendment", TODAY))
    assert reasons(endpoint(attested)) == set()


def test_attestation_cannot_make_a_training_or_unoffered_endpoint_routable() -> None:
    attestation = Attestation("signed", TODAY)
    trains = dataclasses.replace(ZDR, trains_on_data=True, attestation=attestation)
    none = dataclasses.replace(
        ZDR, zdr=ZdrAvailability.NONE, retention_days=30, attestation=attestation
    )
    assert Reason.TRAINS_ON_DATA in reasons(endpoint(trains))
    assert {Reason.ZDR_NOT_OFFERED, Reason.RETAINS_DATA} <= reasons(endpoint(none))


def test_request_constraints_only_narrow() -> None:
    assert Reason.FILTERED_BY_REQUEST in reasons(endpoint(), Constraints(only=frozenset({"other"})))
    assert Reason.FILTERED_BY_REQUEST in reasons(endpoint(), Constraints(ignore=frozenset({"p"})))
    assert Reason.OVER_MAX_PRICE in reasons(endpoint(price=5), Constraints(max_prompt_price=1))
    assert Reason.MISSING_CAPABILITY in reasons(
        endpoint(caps=frozenset()), Constraints(needs=frozenset({"tools"}))
    )
    # No constraint can turn a rejected endpoint into an approved one.
    retaining = endpoint(dataclasses.replace(ZDR, retention_days=30))
    assert reasons(retaining, Constraints(only=frozenset({"p"}))) == {Reason.RETAINS_DATA}


def test_approvals_cannot_be_forged() -> None:
    with pytest.raises(ForgedApproval):
        Approval(endpoint(), TODAY, seal=object())
    with pytest.raises(ForgedApproval):
        verify(object(), TODAY)


def test_approval_expires_with_its_record() -> None:
    decision = PolicyEngine(180).decide(Model("a/m", "M", (endpoint(),)), TODAY)
    approval = decision.approvals[0]
    assert verify(approval, TODAY) is approval
    with pytest.raises(ForgedApproval):
        verify(approval, ZDR.verified_on + dt.timedelta(days=181))  # type: ignore[operator]


def test_approvals_are_immutable() -> None:
    approval = PolicyEngine(180).decide(Model("a/m", "M", (endpoint(),)), TODAY).approvals[0]
    with pytest.raises(AttributeError):
        approval.endpoint = endpoint(pid="evil")  # type: ignore[misc]


def test_a_record_altered_after_approval_voids_the_approval() -> None:
    record = dataclasses.replace(ZDR)  # a private copy to tamper with
    approval = PolicyEngine(180).decide(Model("a/m", "M", (endpoint(record),)), TODAY).approvals[0]
    assert verify(approval, TODAY) is approval
    object.__setattr__(record, "retention_days", 30)  # what frozen=True is there to stop
    with pytest.raises(ForgedApproval, match="changed after approval"):
        verify(approval, TODAY)
