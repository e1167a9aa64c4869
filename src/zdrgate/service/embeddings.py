"""Embeddings through the one pipeline (``POST /v1/embeddings``).

Usage::

    body, served = await create_embeddings(gateway, request, principal)

Vectors are returned as floats (default) or, with ``encoding_format: "base64"``, as
base64 of little-endian float32 (what the OpenAI SDK asks for by default), whatever
the upstream answered with.
"""

from __future__ import annotations

import base64
import sys
from array import array

from zdrgate.accounts.keys import Principal
from zdrgate.catalog.model import Endpoint
from zdrgate.limits import NO_DEMAND, Demand
from zdrgate.protocols import spec_for
from zdrgate.protocols.base import UpstreamCall
from zdrgate.protocols.common import JSON
from zdrgate.protocols.media import EmbeddingBatch
from zdrgate.service.gateway import Gateway, Metering, Served
from zdrgate.service.media import media_plan
from zdrgate.wire.embeddings import EmbeddingRequest

ROUTE = "embeddings"


async def create_embeddings(
    gateway: Gateway, request: EmbeddingRequest, principal: Principal, demand: Demand = NO_DEMAND
) -> tuple[JSON, Served]:
    plan = media_plan(gateway, request.model, request.models, request.provider, "embeddings")
    meter = Metering(gateway, principal, ROUTE, request.model, stream=False)
    meter.demand = demand

    async def build(endpoint: Endpoint) -> UpstreamCall:
        codec = spec_for(endpoint.provider.protocol).require_embeddings()
        return codec.build_embeddings(endpoint, request)

    def parse(endpoint: Endpoint, body: bytes) -> EmbeddingBatch:
        codec = spec_for(endpoint.provider.protocol).require_embeddings()
        return codec.parse_embeddings(endpoint, body)

    batch, approval = await gateway.first_success(plan, build, parse, meter)
    meter.succeeded(approval.endpoint, batch.prompt_tokens, 0)
    as_base64 = request.encoding_format == "base64"
    return render(batch, approval.endpoint.model_id, as_base64), meter.served(approval)


def render(batch: EmbeddingBatch, model_id: str, as_base64: bool) -> JSON:
    """OpenAI's embeddings response."""
    convert = to_base64 if as_base64 else to_floats
    data = [
        {"object": "embedding", "index": index, "embedding": convert(vector)}
        for index, vector in enumerate(batch.vectors)
    ]
    tokens = batch.prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": model_id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def to_base64(vector: list[float] | str) -> str:
    if isinstance(vector, str):
        return vector
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def to_floats(vector: list[float] | str) -> list[float]:
    if isinstance(vector, list):
        return vector
    packed = array("f")
    packed.frombytes(base64.b64decode(vector))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()
