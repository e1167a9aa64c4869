"""Review findings for the catalog's policy records (``zdrgate catalog check``).

Pure functions over a loaded :class:`Catalog`: they list what a compliance reviewer
must look at - records too old to route on, records nobody is sure of, records whose
sources disagree. They never change routing; the policy engine applies the rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from zdrgate.catalog.model import Catalog, Confidence, PolicyRecord, ZdrAvailability

# The generator writes this marker into a record's notes wherever its sources disagree.
CONFLICT_MARKER = "sources conflict:"


class FindingKind(StrEnum):
    STALE = "stale"  # verified_on missing or older than max_verification_age_days
    LOW_CONFIDENCE = "low_confidence"  # confidence low or unknown: not routable
    ZDR_UNKNOWN = "zdr_unknown"  # nobody knows whether ZDR is offered
    NO_EVIDENCE = "no_evidence"  # nothing a reviewer could check
    SOURCES_CONFLICT = "sources_conflict"  # stricter reading applied; re-verify
    FUTURE_DATE = "future_date"  # verified_on after today: a typo; never routable


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to review about one policy record."""

    kind: FindingKind
    policy: str  # policy key, e.g. "openai" or "google-ai-studio-free"
    providers: tuple[str, ...]  # catalog providers whose endpoints use the record
    message: str


def check_catalog(
    catalog: Catalog, today: dt.date, max_verification_age_days: int
) -> list[Finding]:
    """All findings for every distinct record in use, sorted by policy then kind."""
    findings: list[Finding] = []
    for key, (record, providers) in sorted(records_in_use(catalog).items()):
        findings += check_record(key, record, providers, today, max_verification_age_days)
    return findings


def records_in_use(catalog: Catalog) -> dict[str, tuple[PolicyRecord, tuple[str, ...]]]:
    """Distinct records keyed by a readable name, with the providers that use them.

    Records carry no key of their own once loaded, so a record shared by several
    providers is named after its first provider, and an endpoint-level record after
    ``provider/upstream_id``.
    """
    users: dict[PolicyRecord, set[str]] = {}
    names: dict[PolicyRecord, str] = {}
    for pid, provider in sorted(catalog.providers.items()):
        users.setdefault(provider.policy, set()).add(pid)
        names.setdefault(provider.policy, pid)
    for model in sorted(catalog.models.values(), key=lambda m: m.id):
        for endpoint in model.endpoints:
            users.setdefault(endpoint.policy, set()).add(endpoint.provider.id)
            names.setdefault(endpoint.policy, f"{endpoint.provider.id}/{endpoint.upstream_id}")
    return {names[record]: (record, tuple(sorted(users[record]))) for record in users}


def check_record(
    key: str,
    record: PolicyRecord,
    providers: tuple[str, ...],
    today: dt.date,
    max_verification_age_days: int,
) -> list[Finding]:
    def finding(kind: FindingKind, message: str) -> Finding:
        return Finding(kind=kind, policy=key, providers=providers, message=message)

    out: list[Finding] = []
    if record.verified_on is not None and record.verified_on > today:
        when = record.verified_on.isoformat()
        out.append(finding(FindingKind.FUTURE_DATE, f"verified {when}: after today"))
    elif is_stale(record, today, max_verification_age_days):
        when = record.verified_on.isoformat() if record.verified_on else "never"
        out.append(
            finding(FindingKind.STALE, f"verified {when}; limit {max_verification_age_days} days")
        )
    if record.confidence in (Confidence.LOW, Confidence.UNKNOWN):
        out.append(finding(FindingKind.LOW_CONFIDENCE, f"confidence {record.confidence.value}"))
    if record.zdr is ZdrAvailability.UNKNOWN:
        out.append(finding(FindingKind.ZDR_UNKNOWN, "ZDR availability unknown"))
    if not record.evidence:
        out.append(finding(FindingKind.NO_EVIDENCE, "no evidence URL or reference"))
    out += [finding(FindingKind.SOURCES_CONFLICT, text) for text in conflicts(record)]
    return out


def is_stale(record: PolicyRecord, today: dt.date, max_verification_age_days: int) -> bool:
    if record.verified_on is None:
        return True
    return (today - record.verified_on).days > max_verification_age_days


def conflicts(record: PolicyRecord) -> list[str]:
    """The conflict notes the generator left in ``notes`` or ``conditions``."""
    texts = [record.notes, *record.conditions]
    found: list[str] = []
    for text in texts:
        lowered = text.lower()
        start = lowered.find(CONFLICT_MARKER)
        while start >= 0:
            end = lowered.find(CONFLICT_MARKER, start + len(CONFLICT_MARKER))
            found.append(text[start : end if end >= 0 else len(text)].strip())
            start = end
    return found
