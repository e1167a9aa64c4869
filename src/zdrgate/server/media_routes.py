"""The image and embedding routes: parse, authenticate, call the service, render."""

from __future__ import annotations

from starlette.requests import Request

from zdrgate.limits.demand import embedding_demand, image_demand
from zdrgate.server.identity import principal_of
from zdrgate.server.parsing import parse_body
from zdrgate.server.receipting import Receipting
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import state_of
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest


async def images_generations(request: Request) -> JSONBytes:
    state = state_of(request)
    principal = principal_of(request)
    raw = await request.body()
    body = parse_body(ImageRequest, raw)
    receipt = Receipting(state.receipts, raw, body.model_fields_set, request.scope["headers"])
    pass_urls = state.settings.images.pass_through_provider_urls
    demand = image_demand(len(raw), body)
    result, served = await state.gateway.images(
        body, principal, pass_urls=pass_urls, demand=demand
    )
    return receipt.json(result, served)


async def embeddings(request: Request) -> JSONBytes:
    state = state_of(request)
    principal = principal_of(request)
    raw = await request.body()
    body = parse_body(EmbeddingRequest, raw)
    receipt = Receipting(state.receipts, raw, body.model_fields_set, request.scope["headers"])
    demand = embedding_demand(len(raw), body)
    result, served = await state.gateway.embeddings(body, principal, demand)
    return receipt.json(result, served)
