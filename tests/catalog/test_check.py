"""``zdrgate.catalog.check``: findings for records a reviewer must look at."""

from __future__ import annotations

import dataclasses
import datetime as dt

from zdrgate.catalog.check import FindingKind, check_catalog, check_record, conflicts
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.model import Confidence, PolicyRecord, ZdrAvailability

TODAY = dt.date(2026, 11, 27)

RECORD = PolicyRecord(
    retention_days=0,
    trains_on_data=False,
    zdr=ZdrAvailability.DEFAULT,
    evidence=("https://example.com/policy",),
    verified_on=dt.date(2026, 11, 1),
    confidence=Confidence.HIGH,
)


def kinds(record: PolicyRecord, today: dt.date = TODAY) -> set[FindingKind]:
    return {f.kind for f in check_record("x", record, ("p",), today, 180)}


def test_clean_record_has_no_findings() -> None:
    assert kinds(RECORD) == set()


def test_stale_after_max_age() -> None:
    assert FindingKind.STALE in kinds(RECORD, today=dt.date(2027, 5, 1))
    assert FindingKind.STALE in kinds(dataclasses.replace(RECORD, verified_on=None))


def test_low_confidence_unknown_zdr_and_no_evidence() -> None:
    record = dataclasses.replace(
        RECORD, confidence=Confidence.LOW, zdr=ZdrAvailability.UNKNOWN, evidence=()
    )
    assert kinds(record) == {
        FindingKind.LOW_CONFIDENCE,
        FindingKind.ZDR_UNKNOWN,
        FindingKind.NO_EVIDENCE,
    }


def test_conflict_marker() -> None:
    record = dataclasses.replace(
        RECORD, notes="Read. Sources conflict: a says 0. Sources conflict: b."
    )
    assert conflicts(record) == ["Sources conflict: a says 0.", "Sources conflict: b."]
    assert FindingKind.SOURCES_CONFLICT in kinds(record)


def test_shipped_catalog_findings() -> None:
    findings = check_catalog(load_packaged_catalog(), TODAY, 180)
    by_kind = {(f.kind, f.policy) for f in findings}
    assert (FindingKind.LOW_CONFIDENCE, "novita") in by_kind
    assert (FindingKind.SOURCES_CONFLICT, "anthropic") in by_kind
    assert (FindingKind.SOURCES_CONFLICT, "xai") in by_kind
    assert not any(f.kind is FindingKind.STALE for f in findings)
    assert any(
        f.kind is FindingKind.STALE
        for f in check_catalog(load_packaged_catalog(), dt.date(2027, 6, 1), 180)
    )
