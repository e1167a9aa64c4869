"""Embeddings through the one pipeline (``POST /v1/embeddings``).

Usage::

    body, served = await gateway.embeddings(request, principal)

Vectors are returned as floats (default) or, with ``encoding_format: "base64"``, as
base64 of little-endian float32 (what the OpenAI SDK asks for by default), whatever
the upstream answered with.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import TYPE_CHECKING

from zdrgate.policy import Approval
from zdrgate.protocols import endpoint_spec
from zdrgate.protocols.common import JSON
from zdrgate.protocols.media import EmbeddingBatch
from zdrgate.service.plan import Plan
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.wire.embeddings import EmbeddingRequest

ROUTE = "embeddings"

if TYPE_CHECKING:
    from zdrgate.service.metering import Metering


async def create_embeddings(
    runner: Runner, plan: Plan, meter: Metering, request: EmbeddingRequest
) -> tuple[JSON, Served]:
    async def attempt(approval: Approval) -> EmbeddingBatch:
        endpoint = approval.endpoint
        codec = endpoint_spec(endpoint).require_embeddings()
        call = codec.build_embeddings(endpoint, request)
        return await runner.call_json(approval, call, codec.parse_embeddings)

    batch, approval = await runner.first(plan.approvals, meter, attempt)
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
