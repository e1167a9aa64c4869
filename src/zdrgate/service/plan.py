"""Planning a request: which approved endpoints, in which order.

Everything is decided here before a byte leaves: unknown models, and models whose
endpoints were all refused, end as 404 errors naming each endpoint and why.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import lru_cache

from zdrgate.catalog.model import Catalog, Endpoint
from zdrgate.errors import ModelNotFound, NoRoutableEndpoint
from zdrgate.policy import Approval, Constraints, Decision, PolicyEngine, Reason, describe
from zdrgate.routing import HealthBoard, Preferences, order_approvals
from zdrgate.wire.chat import ChatRequest, ProviderPreferences

_CREDENTIAL_HINT = "set {env} to make it routable"
_BASE_URL_HINT = "set providers.{provider}.base_url"
_DEPLOYMENT_HINT = "map it in providers.{provider}.deployments"


@dataclass(frozen=True, slots=True)
class Plan:
    approvals: tuple[Approval, ...]
    decisions: tuple[Decision, ...]


_DEFAULT_PREFERENCES = Preferences()


def constraints_for(request: ChatRequest) -> Constraints:
    needs: set[str] = set()
    if request.tools:
        needs.add("tools")
    if request.has_image_input():
        needs.add("vision")
    if request.response_format is not None and request.response_format.type == "json_schema":
        needs.add("structured_output")
    modality = "image" if request.wants_images() else "text"
    if request.provider is None:  # most requests: no routing preferences
        return _plain_constraints(frozenset(needs), modality)
    prefs = request.provider
    price = prefs.max_price
    return Constraints(
        only=frozenset(p.lower() for p in prefs.only) if prefs.only is not None else None,
        ignore=frozenset(p.lower() for p in prefs.ignore or ()),
        max_prompt_price=price.prompt if price else None,
        max_completion_price=price.completion if price else None,
        max_image_price=price.image if price else None,
        needs=frozenset(needs),
        output_modality=modality,
    )


@lru_cache(maxsize=64)
def _plain_constraints(needs: frozenset[str], modality: str) -> Constraints:
    return Constraints(needs=needs, output_modality=modality)


def preferences_for(provider: ProviderPreferences | None) -> Preferences:
    if provider is None:
        return _DEFAULT_PREFERENCES
    prefs = provider
    return Preferences(
        order=tuple(p.lower() for p in prefs.order or ()),
        allow_fallbacks=prefs.allow_fallbacks,
        sort=prefs.sort,
    )


def model_ids(model: str, fallbacks: list[str] | None) -> list[str]:
    """The requested model, then the ``models`` fallback list, without repeats."""
    return list(dict.fromkeys([model, *(fallbacks or ())]))


def make_plan(
    models: list[str],
    constraints: Constraints,
    prefs: Preferences,
    catalog: Catalog,
    engine: PolicyEngine,
    health: HealthBoard,
    rng: random.Random,
    today: dt.date,
) -> Plan:
    """Approvals for ``models`` (the first, then fallbacks), each model's in routing order."""
    decisions: list[Decision] = []
    approvals: list[Approval] = []
    for model_id in models:
        model = catalog.model(model_id)
        if model is None:
            continue
        decision = engine.decide(model, today, constraints)
        decisions.append(decision)
        approvals.extend(order_approvals(decision.approvals, prefs, health, rng))
    if not decisions:
        raise ModelNotFound(
            f"The model '{models[0]}' does not exist in this gateway's catalog. "
            "GET /v1/models lists the models.",
            param="model",
        )
    if not approvals:
        raise NoRoutableEndpoint(refusal_message(decisions), param="model")
    return Plan(tuple(approvals), tuple(decisions))


def refusal_message(decisions: list[Decision]) -> str:
    parts = []
    for decision in decisions:
        lines = [_rejection_line(r.endpoint, r.reasons) for r in decision.rejections]
        if decision.approvals:  # approved but cut by allow_fallbacks/order
            lines.append("approved endpoints were excluded by the request's routing preferences")
        detail = "; ".join(lines) if lines else "it has no endpoints"
        parts.append(f"No zero-data-retention endpoint may serve '{decision.model.id}': {detail}.")
    return " ".join(parts)


def _rejection_line(endpoint: Endpoint, reasons: tuple[Reason, ...]) -> str:
    texts = []
    env = endpoint.provider.credentials_env
    for reason in reasons:
        text = describe(reason)
        if reason is Reason.NO_CREDENTIALS and env:
            text = f"{text} ({_CREDENTIAL_HINT.format(env=env)})"
        elif reason is Reason.UPSTREAM_NOT_CONFIGURED:
            text = f"{text} ({_BASE_URL_HINT.format(provider=endpoint.provider.id)})"
        elif reason is Reason.DEPLOYMENT_NOT_MAPPED:
            text = f"{text} ({_DEPLOYMENT_HINT.format(provider=endpoint.provider.id)})"
        texts.append(text)
    codes = ",".join(r.value for r in reasons)
    return f"{endpoint.id} [{codes}]: {', '.join(texts)}"
