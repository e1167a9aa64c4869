"""``GET /metrics``: Prometheus text format, metadata only (see ``zdrgate.metrics``).

An admin key is required unless ``metrics.public`` is set; with metrics disabled the
route answers 404 like any unknown route.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response

from zdrgate.errors import NotFound
from zdrgate.limits import StoreUnavailable
from zdrgate.server.identity import require_admin
from zdrgate.server.routes import authenticate, state_of
from zdrgate.service import Gateway

log = logging.getLogger("zdrgate.server")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def metrics(request: Request) -> Response:
    state = state_of(request)
    recorder = state.gateway.usage.metrics
    if recorder is None:
        raise NotFound(f"Unknown route: {request.method} {request.url.path}")
    if not state.settings.metrics.public:
        require_admin(await authenticate(request))
    try:
        budgets = await state.gateway.limiter.budget_levels()
    except StoreUnavailable as exc:  # the other metrics still go out
        log.warning(
            "budget metrics left out: the counters are unavailable (%s)", type(exc).__name__
        )
        budgets = None
    return Response(recorder.exposition(budgets), media_type=CONTENT_TYPE)


def routable_counts(gateway: Gateway) -> Iterator[tuple[str, int]]:
    """Each model's number of endpoints that may receive a prompt today."""
    today = gateway.today()
    for model in gateway.catalog.models.values():
        yield model.id, len(gateway.engine.decide(model, today).approvals)
