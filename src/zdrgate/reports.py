"""Rows for the CLI's tables: models and per-endpoint policy decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from zdrgate.catalog.model import Catalog, Endpoint, Model
from zdrgate.policy import PolicyEngine
from zdrgate.policy.engine import zdr_capable


def _zdr_capable(endpoint: Endpoint, engine: PolicyEngine, today: dt.date) -> bool:
    """Routable once credentials (and an attestation, where needed) are configured."""
    return zdr_capable(endpoint.policy, today, engine.max_age_days)


def model_row(model: Model, engine: PolicyEngine, today: dt.date) -> dict[str, Any]:
    capable = [e for e in model.endpoints if _zdr_capable(e, engine, today)]
    standard = [e for e in model.endpoints if e not in capable]
    routable = engine.decide(model, today).approvals
    cheapest = min(
        capable, key=lambda e: (e.prompt_price or 0.0) + (e.completion_price or 0.0), default=None
    )
    retention = sorted({_retention(e) for e in standard})
    return {
        "id": model.id,
        "name": model.name,
        "output_modalities": list(model.output_modalities),
        "endpoints": len(model.endpoints),
        "zdr_endpoints": len(capable),
        "routable_endpoints": len(routable),
        "zdr_providers": sorted({e.provider.id for e in capable}),
        "cheapest_zdr_prompt": cheapest.prompt_price if cheapest else None,
        "cheapest_zdr_completion": cheapest.completion_price if cheapest else None,
        "standard_endpoints": len(standard),
        "standard_retention_days": ", ".join(retention) if retention else "-",
    }


def _retention(endpoint: Endpoint) -> str:
    days = endpoint.policy.retention_days
    return "unknown" if days is None else f"{days:g}"


def model_rows(
    catalog: Catalog,
    engine: PolicyEngine,
    today: dt.date,
    *,
    show_all: bool = False,
    zdr_only: bool = False,
    provider: str | None = None,
    modality: str | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for model in sorted(catalog.models.values(), key=lambda m: m.id):
        if provider and not any(e.provider.id == provider for e in model.endpoints):
            continue
        if modality and modality not in model.output_modalities:
            continue
        row = model_row(model, engine, today)
        if zdr_only and not row["routable_endpoints"]:
            continue
        if show_all or row["zdr_endpoints"]:
            rows.append(row)
    return rows


def explain_rows(model: Model, engine: PolicyEngine, today: dt.date) -> list[dict[str, Any]]:
    decision = engine.decide(model, today)
    rows = [_explain(a.endpoint, ()) for a in decision.approvals]
    rows += [_explain(r.endpoint, tuple(x.value for x in r.reasons)) for r in decision.rejections]
    return rows


def _explain(endpoint: Endpoint, reasons: tuple[str, ...]) -> dict[str, Any]:
    row = _explain_policy(endpoint, reasons)
    if endpoint.deployment is not None:  # the Azure deployment the config maps it to
        row["deployment"] = endpoint.deployment
    return row


def _explain_policy(endpoint: Endpoint, reasons: tuple[str, ...]) -> dict[str, Any]:
    policy = endpoint.policy
    return {
        "endpoint": endpoint.id,
        "protocol": endpoint.speaks.value,
        "routable": "yes" if not reasons else "no",
        "reasons": ", ".join(reasons) or "-",
        "retention_days": _retention(endpoint),
        "trains_on_data": "unknown"
        if policy.trains_on_data is None
        else str(policy.trains_on_data).lower(),
        "zdr": policy.zdr.value + (" (attested)" if policy.attestation else ""),
        "verified_on": policy.verified_on.isoformat() if policy.verified_on else "never",
        "confidence": policy.confidence.value,
        "evidence": list(policy.evidence),
        "credentials_env": endpoint.provider.credentials_env,
    }


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
