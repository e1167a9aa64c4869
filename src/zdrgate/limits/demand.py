"""A request's :class:`Demand`, estimated from its size and its own caps (no content read).

Usage (in a route, which has the body's size)::

    demand = chat_demand(len(body), chat)
"""

from __future__ import annotations

from zdrgate.limits.limiter import Demand
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest


def chat_demand(body_bytes: int, chat: ChatRequest) -> Demand:
    cap = chat.max_completion_tokens or chat.max_tokens
    choices = chat.n or 1
    return Demand.of_body(body_bytes, cap * choices if cap else None, choices=choices)


def image_demand(body_bytes: int, request: ImageRequest) -> Demand:
    # No output cap: an endpoint that bills images as output tokens (gpt-image, Gemini)
    # reserves its maximum output per image, one priced per image its image price.
    images = request.n or 1
    return Demand.of_body(body_bytes, None, images=images, choices=images)


def embedding_demand(body_bytes: int, request: EmbeddingRequest) -> Demand:
    del request  # no output tokens: the estimate is the input's size
    return Demand.of_body(body_bytes, 0)
