"""Readiness for load balancers and Kubernetes probes.

(``GET /healthz``, liveness, is in routes.) ``GET /readyz``: this instance can
serve: the catalog is loaded, the database answers and its schema is current, and
Redis answers when it is configured. Each
check is named in the answer with ``ok`` or a fixed failure word, never an exception
message (which could carry a connection string).
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from starlette.requests import Request

from zdrgate.accounts import migrate
from zdrgate.server.responses import JSONBytes
from zdrgate.server.state import AppState

CHECK_TIMEOUT_SECONDS = 2.0


async def readyz(request: Request) -> JSONBytes:
    state: AppState = request.app.state.zdrgate
    checks = {
        "catalog": "ok" if state.gateway.catalog.models else "empty",
        "database": await _database(state),
    }
    if checks["database"] == "ok":
        checks["migrations"] = await _migrations(state)
    if state.settings.storage.redis_url:  # shared limits, revocations, endpoint health
        reachable = await state.gateway.limiter.counters.reachable()
        checks["redis"] = "ok" if reachable else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONBytes(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _migrations(state: AppState) -> str:
    try:
        current = await asyncio.to_thread(migrate.is_current, state.store.engine)
    except Exception:
        return "unreachable"
    return "ok" if current else "behind"


async def _database(state: AppState) -> str:
    def ping() -> None:
        with state.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(asyncio.to_thread(ping), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception:  # any driver error: unreachable, refused, bad credentials
        return "unreachable"
    return "ok"
