"""Evidence watch: fetch each provider's evidence pages, hash them, compare with the
log, and log what changed.

Usage::

    report = await watch_evidence(catalog, dispatcher, log, ring, progress=bar.update)
    report.as_json()

Per provider with http(s) evidence: all its pages are fetched (through the upstream
dispatcher, which refuses any URL the catalog does not name), normalized
(:mod:`zdrgate.watch.normalize`) and hashed into one digest. The first digest is
logged as ``evidence_first_seen``; an unchanged digest logs nothing; a changed one is
logged as ``evidence_changed`` with status ``needs_review`` until an admin runs
``zdrgate catalog verify PROVIDER --evidence ...``. A provider whose pages could not
all be read is reported ``unreachable`` and nothing is logged for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from zdrgate.catalog.model import Catalog, PolicyRecord
from zdrgate.policylog import Change, PolicyLog, Status, Why
from zdrgate.receipts import KeyRing
from zdrgate.upstream import Dispatcher, UpstreamFailure
from zdrgate.upstream.evidence import EvidenceRefused, origin_of
from zdrgate.watch.normalize import page_digest


@dataclass(slots=True)
class Page:
    url: str
    status: str  # "ok", "http_404", "unreachable: timeout", "refused"
    digest: str | None = None


@dataclass(slots=True)
class ProviderResult:
    provider: str
    outcome: str  # first_seen | unchanged | changed | unreachable
    digest: str | None
    pages: list[Page]

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "outcome": self.outcome, "digest": self.digest,
                "pages": [{"url": p.url, "status": p.status, "digest": p.digest}
                          for p in self.pages]}


@dataclass(slots=True)
class WatchReport:
    checked_at: dt.datetime
    providers: list[ProviderResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for p in self.providers if p.outcome == outcome)

    def as_json(self) -> dict[str, Any]:
        outcomes = ("first_seen", "unchanged", "changed", "unreachable")
        return {"checked_at": self.checked_at.isoformat(),
                "summary": {o: self.count(o) for o in outcomes},
                "providers": [p.as_json() for p in self.providers]}


def evidence_urls(catalog: Catalog, only: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each provider's http(s) evidence URLs, from its own and its endpoints' records."""
    wanted = set(only)
    found: dict[str, set[str]] = defaultdict(set)
    records: list[tuple[str, PolicyRecord]] = [(p.id, p.policy) for p in catalog.providers.values()]
    records += [(e.provider.id, e.policy) for m in catalog.models.values() for e in m.endpoints]
    for provider, record in records:
        if wanted and provider not in wanted:
            continue
        found[provider].update(u for u in record.evidence if origin_of(u) is not None)
    return {p: sorted(urls) for p, urls in sorted(found.items()) if urls}


def endpoints_of(catalog: Catalog, provider: str) -> tuple[str, ...]:
    return tuple(sorted({e.id for m in catalog.models.values() for e in m.endpoints
                         if e.provider.id == provider}))


async def watch_evidence(
    catalog: Catalog,
    dispatcher: Dispatcher,
    log: PolicyLog,
    ring: KeyRing,
    *,
    only: Iterable[str] = (),
    progress: Callable[[str], None] = lambda url: None,
) -> WatchReport:
    urls = evidence_urls(catalog, only)
    allowed = frozenset(o for us in evidence_urls(catalog).values() for u in us
                        if (o := origin_of(u)) is not None)
    last = log.watched_digests()
    report = WatchReport(dt.datetime.now(dt.UTC))
    changes: list[Change] = []
    for provider, provider_urls in urls.items():
        pages = []
        for url in provider_urls:
            pages.append(await _fetch(dispatcher, url, allowed))
            progress(url)
        result = _compare(provider, pages, last.get(provider))
        report.providers.append(result)
        change = _change_for(result, endpoints_of(catalog, provider))
        if change is not None:
            changes.append(change)
    log.append(changes, ring, report.checked_at)
    return report


async def _fetch(dispatcher: Dispatcher, url: str, allowed: frozenset[str]) -> Page:
    try:
        status, body = await dispatcher.fetch_evidence(url, allowed)
    except EvidenceRefused:
        return Page(url, "refused")
    except UpstreamFailure as exc:
        return Page(url, f"unreachable: {exc.kind.value}")
    if status != 200:
        return Page(url, f"http_{status}")
    return Page(url, "ok", page_digest(body))


def _compare(provider: str, pages: list[Page], previous: str | None) -> ProviderResult:
    if any(p.digest is None for p in pages):
        return ProviderResult(provider, "unreachable", None, pages)
    lines = "\n".join(f"{p.url} {p.digest}" for p in pages).encode()
    digest = "sha256:" + hashlib.sha256(lines).hexdigest()
    if previous is None:
        return ProviderResult(provider, "first_seen", digest, pages)
    return ProviderResult(provider, "unchanged" if previous == digest else "changed", digest, pages)


def _change_for(result: ProviderResult, endpoints: tuple[str, ...]) -> Change | None:
    if result.outcome == "first_seen":
        return Change(result.provider, endpoints, None, None, Why.EVIDENCE_FIRST_SEEN,
                      Status.RECORDED, result.digest)
    if result.outcome == "changed":
        return Change(result.provider, endpoints, None, None, Why.EVIDENCE_CHANGED,
                      Status.NEEDS_REVIEW, result.digest)
    return None


def reverify(
    catalog: Catalog, log: PolicyLog, ring: KeyRing, provider: str, evidence: str
) -> Change:
    """An admin's review after a change: logged with the reference they reviewed;
    the provider is routable again."""
    reference = "sha256:" + hashlib.sha256(evidence.encode("utf-8")).hexdigest()
    change = Change(provider, endpoints_of(catalog, provider), None, None,
                    Why.EVIDENCE_REVERIFIED, Status.VERIFIED, reference)
    log.append([change], ring)
    return change


def under_review(log: PolicyLog) -> frozenset[str]:
    """Providers whose last evidence entry awaits review."""
    return frozenset(p for p, c in log.evidence_state().items() if c.status is Status.NEEDS_REVIEW)
