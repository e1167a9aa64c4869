"""Public, read-only catalog facts for the models and privacy pages.

These pages may be read without signing in: what each endpoint's provider keeps, and
which providers this deployment can send a prompt to, are facts a person should be able
to check before they type anything. Nothing here takes input beyond the path, and
nothing here touches a prompt.

Usage::

    GET /public/models    -> {"models": [...], "policies": {...}, "providers": {...}}
    GET /public/privacy   -> {"operator": {...}, "subprocessors": [...], ...}
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from zdrgate.catalog.model import Endpoint, Model, policy_to_dict
from zdrgate.policy import Decision, PolicyEngine, describe
from zdrgate.policy.engine import zdr_capable
from zdrgate.server.catalog_views import listing_decision, summary_reason
from zdrgate.server.state import AppState


def models_document(state: AppState) -> dict[str, Any]:
    """Every model with every endpoint (ZDR and standard) and today's decision.

    Policy records are listed once and referred to by digest: hundreds of endpoints
    share a few dozen records, and the page is loaded by people on phones.
    """
    gateway = state.gateway
    today = gateway.today()
    policies: dict[str, Any] = {}
    providers: dict[str, str] = {}
    models = []
    for model in gateway.catalog.models.values():
        decision = listing_decision(gateway.engine, model, today)
        models.append(_model_row(model, decision, gateway.engine, today, policies, providers))
    return {
        "today": today.isoformat(),
        "max_verification_age_days": gateway.engine.max_age_days,
        "models": models,
        "policies": policies,
        "providers": providers,
    }


def _model_row(
    model: Model,
    decision: Decision,
    engine: PolicyEngine,
    today: dt.date,
    policies: dict[str, Any],
    providers: dict[str, str],
) -> dict[str, Any]:
    reasons = {r.endpoint.id: r.reasons for r in decision.rejections}
    endpoints = []
    for endpoint in model.endpoints:
        digest = endpoint.policy.digest()
        policies.setdefault(digest, policy_to_dict(endpoint.policy))
        providers.setdefault(endpoint.provider.id, endpoint.provider.name)
        excluded = reasons.get(endpoint.id, ())
        endpoints.append(
            {
                "id": endpoint.id,
                "provider": endpoint.provider.id,
                "region": endpoint.region,
                "policy": digest,
                "zdr_capable": zdr_capable(endpoint.policy, today, engine.max_age_days),
                "routable": endpoint.id not in reasons,
                "excluded_because": [describe(r) for r in excluded],
                "prompt_price": endpoint.prompt_price,
                "completion_price": endpoint.completion_price,
                "image_price": endpoint.image_price,
                "context_length": endpoint.context_length,
            }
        )
    return {
        "id": model.id,
        "name": model.name,
        "author": model.id.split("/", 1)[0],
        "context_length": model.context_length,
        "input_modalities": list(model.input_modalities),
        "output_modalities": list(model.output_modalities),
        "capabilities": sorted({c for e in model.endpoints for c in e.capabilities}),
        "routable": bool(decision.approvals),
        "reason": summary_reason(decision),
        "endpoints": endpoints,
    }


def privacy_document(state: AppState) -> dict[str, Any]:
    """The facts of the privacy page: operator, subprocessors, limits."""
    web = state.settings.web
    gateway = state.gateway
    today = gateway.today()
    routable: dict[str, list[Endpoint]] = {}
    for model in gateway.catalog.models.values():
        for approval in listing_decision(gateway.engine, model, today).approvals:
            routable.setdefault(approval.endpoint.provider.id, []).append(approval.endpoint)
    return {
        "today": today.isoformat(),
        "site_name": web.site_name,
        "operator": {"name": web.operator_name, "contact": web.operator_contact},
        "max_verification_age_days": gateway.engine.max_age_days,
        "subprocessors": [_subprocessor(eps) for _, eps in sorted(routable.items())],
    }


def _subprocessor(endpoints: list[Endpoint]) -> dict[str, Any]:
    provider = endpoints[0].provider
    records = {e.policy.digest(): e.policy for e in endpoints}
    verified = [r.verified_on for r in records.values() if r.verified_on is not None]
    evidence = sorted({item for r in records.values() for item in r.evidence})
    attested = [r.attestation for r in records.values() if r.attestation is not None]
    return {
        "id": provider.id,
        "name": provider.name,
        "regions": sorted({e.region or "default" for e in endpoints}),
        "models": len({e.model_id for e in endpoints}),
        "evidence": evidence,
        "attestation": attested[0].reference if attested else None,
        "verified_on": min(verified).isoformat() if verified else None,
    }
