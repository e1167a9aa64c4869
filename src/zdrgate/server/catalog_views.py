"""JSON views of the catalog for /v1/models and the endpoints route.

OpenAI's model object, OpenRouter-like fields, and zdrgate's policy facts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from zdrgate.catalog.model import Endpoint, Model, policy_to_dict
from zdrgate.policy import Decision, PolicyEngine, Reason, describe
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


def model_view(
    model: Model, decision: Decision, engine: PolicyEngine, today: dt.date
) -> dict[str, Any]:
    capable = [e for e in model.endpoints if zdr_capable(e.policy, today, engine.max_age_days)]
    cheapest = min(decision.approvals, key=lambda a: a.endpoint.prompt_price or 0.0, default=None)
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
        "zdr": {
            "routable": bool(decision.approvals),
            "routable_endpoints": len(decision.approvals),
            "zdr_endpoints": len(capable),
            "endpoints": len(model.endpoints),
        },
    }


def endpoint_view(endpoint: Endpoint, reasons: tuple[Reason, ...]) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "name": f"{endpoint.provider.name} | {endpoint.upstream_id}",
        "provider_name": endpoint.provider.name,
        "provider": endpoint.provider.id,
        "protocol": endpoint.provider.protocol.value,
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
