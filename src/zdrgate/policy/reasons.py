"""Reason codes for excluding an endpoint, with the sentence each one means."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    RETAINS_DATA = "retains_data"
    TRAINS_ON_DATA = "trains_on_data"
    ZDR_NOT_OFFERED = "zdr_not_offered"
    AGREEMENT_NOT_ATTESTED = "agreement_not_attested"
    NO_EVIDENCE = "no_evidence"
    STALE_VERIFICATION = "stale_verification"
    LOW_CONFIDENCE = "low_confidence"
    NO_CREDENTIALS = "no_credentials"
    FILTERED_BY_REQUEST = "filtered_by_request"
    MISSING_CAPABILITY = "missing_capability"
    OVER_MAX_PRICE = "over_max_price"
    OUTSIDE_REGION = "outside_region"
    UPSTREAM_NOT_CONFIGURED = "upstream_not_configured"
    ORIGIN_NOT_ATTESTED = "origin_not_attested"
    STALE_ATTESTATION = "stale_attestation"
    EVIDENCE_UNDER_REVIEW = "evidence_under_review"
    DEPLOYMENT_NOT_MAPPED = "deployment_not_mapped"


_TEXT = {
    Reason.EVIDENCE_UNDER_REVIEW: (
        "the provider's evidence pages changed and await review (zdrgate catalog verify)"
    ),
    Reason.RETAINS_DATA: "retains data (retention is not 0 days, or unknown)",
    Reason.TRAINS_ON_DATA: "trains on data (or training is unknown)",
    Reason.ZDR_NOT_OFFERED: "the provider offers no zero-retention option (or it is unknown)",
    Reason.AGREEMENT_NOT_ATTESTED: "ZDR needs an agreement the operator has not attested",
    Reason.NO_EVIDENCE: "the policy record has no evidence",
    Reason.STALE_VERIFICATION: "the policy record's verification is too old, missing or "
    "dated in the future",
    Reason.STALE_ATTESTATION: "the operator's attestation is older than "
    "max_verification_age_days (or dated in the future); attest it again",
    Reason.LOW_CONFIDENCE: "the policy facts are low-confidence or unknown",
    Reason.NO_CREDENTIALS: "no credentials",
    Reason.FILTERED_BY_REQUEST: "excluded by the request's provider preferences",
    Reason.MISSING_CAPABILITY: "does not support what the request needs",
    Reason.OVER_MAX_PRICE: "more expensive than the request's max_price",
    Reason.OUTSIDE_REGION: "not in the region the API key is limited to",
    Reason.UPSTREAM_NOT_CONFIGURED: "the catalog's base URL is a placeholder the operator "
    "has not replaced",
    Reason.DEPLOYMENT_NOT_MAPPED: "the provider serves models through deployments the "
    "operator names, and the config maps this model to none",
    Reason.ORIGIN_NOT_ATTESTED: "base_url points to an origin the policy record does not "
    "cover and the operator's attestation does not name",
}


def describe(reason: Reason) -> str:
    return _TEXT[reason]
