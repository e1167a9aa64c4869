"""The rules, applied to every endpoint of a model.

Usage::

    engine = PolicyEngine(catalog, max_verification_age_days=180)
    decision = engine.decide(model, constraints, today)
    decision.approvals    # routable endpoints, unordered (the router orders them)
    decision.rejections   # every other endpoint, with reason codes
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from zdrgate.catalog.model import (
    ATTESTABLE,
    Attestation,
    Confidence,
    Endpoint,
    Model,
    PolicyRecord,
    ZdrAvailability,
)
from zdrgate.policy.approval import Approval, mint
from zdrgate.policy.constraints import NO_CONSTRAINTS, Constraints
from zdrgate.policy.reasons import Reason

_ATTESTABLE = ATTESTABLE
_NEEDS_AGREEMENT = frozenset({ZdrAvailability.BY_AGREEMENT, ZdrAvailability.ENTERPRISE})
_TRUSTED = frozenset({Confidence.HIGH, Confidence.MEDIUM})


@dataclass(frozen=True, slots=True)
class Rejection:
    endpoint: Endpoint
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    model: Model
    approvals: tuple[Approval, ...]
    rejections: tuple[Rejection, ...]


# Tomorrow is still "today" somewhere east of the gateway; later is a typo or a lie.
_CLOCK_SLACK = dt.timedelta(days=1)


def fresh(when: dt.date | None, today: dt.date, max_age_days: int) -> bool:
    """Checked no longer than ``max_age_days`` ago, and not in the future."""
    if when is None or when > today + _CLOCK_SLACK:
        return False
    return (today - when).days <= max_age_days


def record_reasons(record: PolicyRecord, today: dt.date, max_age_days: int) -> list[Reason]:
    """Why ``record`` does not allow zero-retention routing (empty list: it does)."""
    reasons: list[Reason] = []
    attestation = record.attestation if record.zdr in _ATTESTABLE else None
    attested = attestation is not None and fresh(attestation.attested_on, today, max_age_days)
    if record.zdr in (ZdrAvailability.NONE, ZdrAvailability.UNKNOWN):
        reasons.append(Reason.ZDR_NOT_OFFERED)
    if attestation is not None and not attested:
        reasons.append(Reason.STALE_ATTESTATION)
    elif record.zdr in _NEEDS_AGREEMENT and not attested:
        reasons.append(Reason.AGREEMENT_NOT_ATTESTED)
    if not attested and record.retention_days != 0:
        reasons.append(Reason.RETAINS_DATA)
    if record.trains_on_data is not False:
        reasons.append(Reason.TRAINS_ON_DATA)
    if not record.evidence and not attested:
        reasons.append(Reason.NO_EVIDENCE)
    if not fresh(record.verified_on, today, max_age_days):
        reasons.append(Reason.STALE_VERIFICATION)
    if record.confidence not in _TRUSTED:
        reasons.append(Reason.LOW_CONFIDENCE)
    return reasons


def zdr_capable(record: PolicyRecord, today: dt.date, max_age_days: int) -> bool:
    """Whether the record allows ZDR routing once the operator has credentials and,
    where the provider needs one, has attested an agreement."""
    if record.zdr in _ATTESTABLE and record.attestation is None:
        record = dataclasses.replace(record, attestation=Attestation("(hypothetical)", today))
    return not record_reasons(record, today, max_age_days)


def endpoint_reasons(
    endpoint: Endpoint, constraints: Constraints, today: dt.date, max_age_days: int
) -> list[Reason]:
    reasons = record_reasons(endpoint.policy, today, max_age_days)
    if endpoint.provider.requires_base_url:  # a placeholder URL: nowhere to send yet
        reasons.append(Reason.UPSTREAM_NOT_CONFIGURED)
    elif not endpoint.provider.origin_covered and _uses_base_url(endpoint):
        reasons.append(Reason.ORIGIN_NOT_ATTESTED)  # the record speaks for other servers
    if endpoint.provider.requires_deployment and endpoint.deployment is None:
        reasons.append(Reason.DEPLOYMENT_NOT_MAPPED)  # no name to reach the model by
    if not endpoint.provider.has_credentials:
        reasons.append(Reason.NO_CREDENTIALS)
    reasons.extend(_request_reasons(endpoint, constraints))
    return reasons


def _uses_base_url(endpoint: Endpoint) -> bool:
    """False for a regional endpoint: it goes to the catalog's own regional URL."""
    region = endpoint.region
    return region is None or region not in dict(endpoint.provider.regional_base_urls)


def _request_reasons(endpoint: Endpoint, c: Constraints) -> list[Reason]:
    reasons: list[Reason] = []
    if not c.provider_allowed(endpoint.provider.id, endpoint.provider.name):
        reasons.append(Reason.FILTERED_BY_REQUEST)
    if not _capable(endpoint, c):
        reasons.append(Reason.MISSING_CAPABILITY)
    if _over_price(endpoint, c):
        reasons.append(Reason.OVER_MAX_PRICE)
    if c.region is not None and endpoint.region != c.region:
        reasons.append(Reason.OUTSIDE_REGION)
    return reasons


def _capable(endpoint: Endpoint, c: Constraints) -> bool:
    if c.output_modality not in endpoint.output_modalities:
        return False
    if "vision" in c.needs and "image" not in endpoint.input_modalities:
        return False
    wanted = c.needs - {"vision"}
    return wanted <= endpoint.capabilities


def _over_price(endpoint: Endpoint, c: Constraints) -> bool:
    pairs = (
        (c.max_prompt_price, endpoint.prompt_price),
        (c.max_completion_price, endpoint.completion_price),
        (c.max_image_price, endpoint.image_price),
    )
    # An unknown price cannot be shown to be under the cap, so it is over it.
    return any(cap is not None and (price is None or price > cap) for cap, price in pairs)


_Key = tuple[int, dt.date, Constraints]


def relevant_to(model: Model, constraints: Constraints) -> Constraints:
    """``constraints`` with ``only``/``ignore`` cut to names of ``model``'s providers.

    The decision is the same (a name no endpoint has never matches), but a request
    can no longer grow cache keys with names of its choosing.
    """
    names = frozenset(
        name for e in model.endpoints for name in (e.provider.id.lower(), e.provider.name.lower())
    )
    only = constraints.only & names if constraints.only is not None else None
    ignore = constraints.ignore & names
    if only == constraints.only and ignore == constraints.ignore:
        return constraints
    return dataclasses.replace(constraints, only=only, ignore=ignore)


class PolicyEngine:
    """Decides per request; pure apart from the date it is given.

    Decisions are cached per (model, day, constraints): the rules depend on nothing
    else, and a new catalog brings new model objects, hence new cache entries.
    """

    _CACHE_MAX = 8192
    # The cache's memory is bounded by what it holds, not by how many keys: a key's
    # constraints are cut down to names of the model's providers (``relevant_to``),
    # and the entries' endpoint decisions (an approval or a rejection, a few hundred
    # bytes each) may total this many; the oldest entries go first.
    CACHE_COST_MAX = 1 << 16

    def __init__(self, max_verification_age_days: int) -> None:
        self.max_age_days = max_verification_age_days
        self._cache: dict[_Key, tuple[Model, Decision]] = {}
        self._cost = 0
        self.suspended: frozenset[str] = frozenset()

    def suspend(self, providers: frozenset[str]) -> None:
        """Providers whose evidence pages changed and await an admin's review
        (evidence watch with ``evidence.on_change = "suspend"``): unroutable."""
        if providers != self.suspended:
            self.suspended = providers
            self._cache.clear()
            self._cost = 0

    def decide(
        self, model: Model, today: dt.date, constraints: Constraints = NO_CONSTRAINTS
    ) -> Decision:
        if constraints.only is not None or constraints.ignore:
            constraints = relevant_to(model, constraints)
        key = (id(model), today, constraints)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is model:
            return cached[1]
        decision = self._decide(model, today, constraints)
        self._store(key, model, decision)
        return decision

    def cache_entries(self) -> int:
        return len(self._cache)

    def cache_cost(self) -> int:
        """What the cache holds, in endpoint decisions (see ``CACHE_COST_MAX``)."""
        return self._cost

    def _store(self, key: _Key, model: Model, decision: Decision) -> None:
        cost = 1 + len(model.endpoints)
        if cost > self.CACHE_COST_MAX:
            return  # a model this large is decided afresh each time
        replaced = self._cache.pop(key, None)
        if replaced is not None:
            self._cost -= 1 + len(replaced[0].endpoints)
        while self._cache and (
            self._cost + cost > self.CACHE_COST_MAX or len(self._cache) >= self._CACHE_MAX
        ):
            oldest = self._cache.pop(next(iter(self._cache)))  # insertion order: FIFO
            self._cost -= 1 + len(oldest[0].endpoints)
        self._cache[key] = (model, decision)
        self._cost += cost

    def _decide(self, model: Model, today: dt.date, constraints: Constraints) -> Decision:
        approvals: list[Approval] = []
        rejections: list[Rejection] = []
        for endpoint in model.endpoints:
            reasons = endpoint_reasons(endpoint, constraints, today, self.max_age_days)
            if endpoint.provider.id in self.suspended:
                reasons.append(Reason.EVIDENCE_UNDER_REVIEW)
            if reasons:
                rejections.append(Rejection(endpoint, tuple(reasons)))
            else:
                approvals.append(mint(endpoint, self._expiry(endpoint.policy)))
        return Decision(model, tuple(approvals), tuple(rejections))

    def _expiry(self, record: PolicyRecord) -> dt.date:
        """The day the approval stops: its record's or its attestation's age limit."""
        assert record.verified_on is not None  # a fresh record has a date
        checked = record.verified_on
        if record.attestation is not None and record.zdr in _ATTESTABLE:
            checked = min(checked, record.attestation.attested_on)
        return checked + dt.timedelta(days=self.max_age_days)
