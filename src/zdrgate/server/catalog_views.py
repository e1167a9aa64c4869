"""JSON views of the catalog for /v1/models and the endpoints route.

OpenAI's model object, OpenRouter-like fields, and zdrgate's policy facts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from zdrgate.catalog.model import Endpoint, Model, policy_to_dict
from zdrgate.policy import Constraints, Decision, PolicyEngine, Reason, describe
from zdrgate.policy.engine import zdr_capable


def _per_token(price: float | None) -> str | None:
    return None if price is None else format(price / 1_000_000, ".12f").rstrip("0").rstrip(".")


def pricing(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "prompt": _per_token(endpoint.prompt_price),
        "completion": _per_token(endpoint.completion_price),
        "image": None if endpoint.image_price is None else str(endpoint.image_price),
        "prompt_per_million": endpoint.prompt_price,
        "completion_per_million": endpoint.completion_price,
    }


_BY_OUTPUT = {m: Constraints(output_modality=m) for m in ("text", "image", "embeddings")}


def listing_decision(engine: PolicyEngine, model: Model, today: dt.date) -> Decision:
    """The decision for a model's own kind of request: an image model is judged as
    an image request, an embedding model as an embeddings request, others as chat."""
    outputs = model.output_modalities
    kind = "text" if "text" in outputs or not outputs else outputs[0]
    return engine.decide(model, today, _BY_OUTPUT.get(kind, _BY_OUTPUT["text"]))


def summary_reason(decision: Decision) -> str | None:
    """One sentence on why no endpoint of the model may be used (None: one may).

    The picker shows it on a greyed model, so it names the cause a person can act on
    first: a ZDR endpoint that only lacks credentials, before retention or training.
    """
    if decision.approvals:
        return None
    rejections = decision.rejections
    if not rejections:
        return "the model has no endpoints"
    if any(r.reasons == (Reason.NO_CREDENTIALS,) for r in rejections):
        return "no credentials for any ZDR endpoint"
    if all(Reason.RETAINS_DATA in r.reasons for r in rejections):
        days = [r.endpoint.policy.retention_days for r in rejections]
        known = [d for d in days if d is not None]
        if known and len(known) == len(days):
            return f"only endpoints that retain data ({_days(min(known))} or more)"
        return "only endpoints that retain data (or whose retention is unknown)"
    first = rejections[0].reasons
    return describe(first[0]) if first else "not routable"


def _days(days: float) -> str:
    return "1 day" if days == 1 else f"{days:g} days"


def model_view(
    model: Model, decision: Decision, engine: PolicyEngine, today: dt.date
) -> dict[str, Any]:
    capable = [e for e in model.endpoints if zdr_capable(e.policy, today, engine.max_age_days)]
    cheapest = min(decision.approvals, key=lambda a: a.endpoint.prompt_price or 0.0, default=None)
    serving = cheapest.endpoint if cheapest else None
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.id.split("/", 1)[0],
        "name": model.name,
        "description": model.description,
        "context_length": model.context_length,
        "architecture": {
            "input_modalities": list(model.input_modalities),
            "output_modalities": list(model.output_modalities),
        },
        "pricing": pricing(cheapest.endpoint) if cheapest else None,
        "capabilities": sorted({c for e in model.endpoints for c in e.capabilities}),
        "zdr": {
            "routable": bool(decision.approvals),
            "reason": summary_reason(decision),
            "provider": serving.provider.id if serving else None,
            "verified_on": _verified(serving),
            "routable_endpoints": len(decision.approvals),
            "zdr_endpoints": len(capable),
            "endpoints": len(model.endpoints),
        },
    }


def _verified(endpoint: Endpoint | None) -> str | None:
    if endpoint is None or endpoint.policy.verified_on is None:
        return None
    return endpoint.policy.verified_on.isoformat()


def endpoint_view(endpoint: Endpoint, reasons: tuple[Reason, ...]) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "name": f"{endpoint.provider.name} | {endpoint.upstream_id}",
        "provider_name": endpoint.provider.name,
        "provider": endpoint.provider.id,
        "protocol": endpoint.speaks.value,
        "upstream_id": endpoint.upstream_id,
        "region": endpoint.region,
        "origin": endpoint.origin,
        "context_length": endpoint.context_length,
        "max_completion_tokens": endpoint.max_output_tokens,
        "input_modalities": list(endpoint.input_modalities),
        "output_modalities": list(endpoint.output_modalities),
        "capabilities": sorted(endpoint.capabilities),
        "pricing": pricing(endpoint),
        "policy": policy_to_dict(endpoint.policy),
        "policy_digest": endpoint.policy.digest(),
        "routable": not reasons,
        "excluded_because": [{"code": r.value, "message": describe(r)} for r in reasons],
    }


def endpoints_view(decision: Decision) -> dict[str, Any]:
    rows = [endpoint_view(a.endpoint, ()) for a in decision.approvals]
    rows += [endpoint_view(r.endpoint, r.reasons) for r in decision.rejections]
    model = decision.model
    return {
        "data": {
            "id": model.id,
            "name": model.name,
            "created": model.created,
            "description": model.description,
            "architecture": {
                "input_modalities": list(model.input_modalities),
                "output_modalities": list(model.output_modalities),
            },
            "endpoints": rows,
        }
    }
