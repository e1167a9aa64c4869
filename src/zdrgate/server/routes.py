"""The /v1 routes: parse, authenticate, call the service, render. Nothing else."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Scope

from zdrgate.accounts.keys import Principal
from zdrgate.errors import ModelNotFound, StorageFeatureRefused
from zdrgate.limits.demand import chat_demand
from zdrgate.server.catalog_views import endpoints_view, listing_decision, model_view
from zdrgate.server.identity import PRINCIPAL, identify
from zdrgate.server.parsing import parse_body
from zdrgate.server.receipting import Receipting
from zdrgate.server.responses import JSONBytes
from zdrgate.server.state import AppState
from zdrgate.server.streaming import DONE, OpenAIRenderer
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.compat import canonical, function_call_answer, function_call_chunk, uses_functions


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.zdrgate
    return state


async def authenticate(request: Request) -> Principal:
    """The caller: the one the front app identified for a /v1 route, else (``/metrics``)
    identified now from the headers."""
    principal = request.scope.get(PRINCIPAL)
    if isinstance(principal, Principal):
        return principal
    return await identify(state_of(request), request.scope)


async def healthz(request: Request) -> JSONBytes:
    return JSONBytes({"status": "ok"})


async def chat_completions(state: AppState, scope: Scope, body: bytes) -> ASGIApp:
    """``POST /v1/chat/completions`` (a :class:`~zdrgate.server.front.FastRoute`: the
    front app calls it without a Starlette request, after authenticating the caller
    into the scope): the response, as an ASGI app."""
    principal: Principal = scope[PRINCIPAL]
    given = parse_body(ChatRequest, body)
    receipt = Receipting(state.receipts, body, given.model_fields_set, scope["headers"])
    chat = canonical(given)  # deprecated and partly supported shapes, translated once
    legacy = uses_functions(given)  # answered as message.function_call
    demand = chat_demand(len(body), chat)
    if chat.stream:
        events = state.gateway.stream(chat, principal, demand)
        keepalive = state.settings.server.stream_keepalive_seconds
        include_usage = bool(chat.stream_options and chat.stream_options.include_usage)
        renderer = OpenAIRenderer(include_usage, function_call_chunk if legacy else None)
        return receipt.stream(events, keepalive, renderer, DONE)
    result, served = await state.gateway.chat(chat, principal, demand)
    return receipt.json(function_call_answer(result) if legacy else result, served)


async def list_models(request: Request) -> JSONBytes:
    """Rendered once per state of routability (``server.listing_cache``), not per call."""
    state = state_of(request)
    only_routable = request.query_params.get("routable") in ("1", "true")
    name = "v1-models-routable" if only_routable else "v1-models"
    rendered = state.documents.get(name, state.gateway, lambda: models_list(state, only_routable))
    headers = request.headers
    return rendered.response(headers.get("if-none-match"), headers.get("accept-encoding"))


def models_list(state: AppState, only_routable: bool) -> dict[str, Any]:
    today = state.gateway.today()
    engine = state.gateway.engine
    data = []
    for model in state.gateway.catalog.models.values():
        decision = listing_decision(engine, model, today)
        if only_routable and not decision.approvals:
            continue
        data.append(model_view(model, decision, engine, today))
    return {"object": "list", "data": data}


def _model_or_404(request: Request) -> Any:
    state = state_of(request)
    model_id = f"{request.path_params['author']}/{request.path_params['slug']}"
    model = state.gateway.catalog.model(model_id)
    if model is None:
        raise ModelNotFound(
            f"The model '{model_id}' does not exist in this gateway's catalog.", param="model"
        )
    return model


async def retrieve_model(request: Request) -> JSONBytes:
    state = state_of(request)
    model = _model_or_404(request)
    today = state.gateway.today()
    decision = listing_decision(state.gateway.engine, model, today)
    return JSONBytes(model_view(model, decision, state.gateway.engine, today))


async def model_endpoints(request: Request) -> JSONBytes:
    state = state_of(request)
    model = _model_or_404(request)
    decision = listing_decision(state.gateway.engine, model, state.gateway.today())
    return JSONBytes(endpoints_view(decision))


async def storage_feature(request: Request) -> JSONBytes:
    feature = request.url.path.removeprefix("/v1/").split("/", 1)[0]
    raise StorageFeatureRefused(
        f"/v1/{feature} stores content at the provider (files, batches, assistants, threads, "
        "vector stores, fine-tuning, stored responses); zdrgate refuses it by design.",
        code="storage_feature_refused",
    )
