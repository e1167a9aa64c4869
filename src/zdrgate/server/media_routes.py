"""The image and embedding routes: parse, authenticate, call the service, render."""

from __future__ import annotations

from starlette.requests import Request

from zdrgate.server.identity import principal_of
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import state_of
from zdrgate.service.embeddings import create_embeddings
from zdrgate.service.images import generate_images
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest


async def images_generations(request: Request) -> JSONBytes:
    state = state_of(request)
    principal = principal_of(request)
    body = parse_body(ImageRequest, await request.body())
    pass_urls = state.settings.images.pass_through_provider_urls
    result, served = await generate_images(state.gateway, body, principal, pass_urls=pass_urls)
    return JSONBytes(result, headers=served.headers())


async def embeddings(request: Request) -> JSONBytes:
    state = state_of(request)
    principal = principal_of(request)
    body = parse_body(EmbeddingRequest, await request.body())
    result, served = await create_embeddings(state.gateway, body, principal)
    return JSONBytes(result, headers=served.headers())
