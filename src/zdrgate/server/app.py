"""The app factory: settings, catalog, store and transport come in explicitly.

Usage::

    app = create_app(settings)                    # as `zdrgate serve` does
    app = create_app(settings, catalog=my_catalog, environ={"OPENAI_API_KEY": "..."})
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from zdrgate.accounts import migrate
from zdrgate.accounts.auth import AuthBlocked, Authenticator
from zdrgate.accounts.epoch import epoch_for
from zdrgate.accounts.failures import AuthFailures, MemoryAuthFailures
from zdrgate.accounts.grants import grant_loader
from zdrgate.accounts.passkeys import MemoryChallenges, Passkeys, RedisChallenges
from zdrgate.accounts.sessions import Sessions
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import SpanSink, UsageRecorder
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.clock import DayClock
from zdrgate.config import Settings, UpstreamSettings
from zdrgate.errors import (
    ConfigError,
    GatewayError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from zdrgate.limits import CounterAuthFailures, Limiter
from zdrgate.limits.backend import counters_for
from zdrgate.limits.spent import UsageSpent
from zdrgate.metrics import Metrics
from zdrgate.policy import PolicyEngine
from zdrgate.receipts import KeyRing, ReceiptSigner, load_key_ring
from zdrgate.routing import HealthBoard
from zdrgate.server import (
    account_routes,
    admin_routes,
    auth_routes,
    health,
    media_routes,
    messages,
    metrics_route,
    openapi,
    passkey_routes,
    proof_routes,
    responses_api,
    routes,
)
from zdrgate.server.front import FastRoute, Front
from zdrgate.server.proofs_lifecycle import start_proofs, stop_proofs
from zdrgate.server.responses import error_response
from zdrgate.server.state import AppState
from zdrgate.server.web import WebApp
from zdrgate.service import Gateway
from zdrgate.upstream import Dispatcher, Transport
from zdrgate.upstream.assets import AssetFetcher, FetchRules
from zdrgate.upstream.proxy import ProxyTransport
from zdrgate.upstream.transport import HTTP1Transport

if TYPE_CHECKING:
    from zdrgate.cluster import HealthSync

log = logging.getLogger("zdrgate.server")
GC_YOUNG_THRESHOLD = 100_000  # allocations between young collections (default 700)

STORAGE_FEATURES = (
    "files",
    "batches",
    "assistants",
    "threads",
    "vector_stores",
    "fine_tuning",
    "uploads",
    "conversations",
    "evals",
    "containers",
)


def build_state(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    environ: Mapping[str, str] | None = None,
    store: Store | None = None,
    today: Callable[[], dt.date] | None = None,
    rng: random.Random | None = None,
    assets: AssetFetcher | None = None,
    keys: KeyRing | None = None,
    transport: Transport | None = None,
) -> AppState:
    env = os.environ if environ is None else environ
    today = today or DayClock()
    base = catalog or load_packaged_catalog()
    served = build_catalog(base, settings, env, today())
    store = store or Store(settings.storage.database_url)
    up = settings.upstream
    counters = counters_for(settings.storage)
    metrics = Metrics(served) if settings.metrics.enabled else None
    gateway = Gateway(
        catalog=served,
        engine=PolicyEngine(settings.policy.max_verification_age_days),
        dispatcher=Dispatcher(today=today, transport=transport or transport_for(up)),
        usage=UsageRecorder(store, settings.storage.usage_flush_seconds, metrics=metrics),
        health=HealthBoard(up.failure_cooldown_seconds),
        rng=rng,
        today=today,
        assets=assets or AssetFetcher(fetch_rules(settings)),
        limiter=Limiter(counters, spent=UsageSpent(store)),
    )
    if metrics is not None:
        metrics.routable = functools.partial(metrics_route.routable_counts, gateway)
    if settings.telemetry.otlp_endpoint:
        gateway.usage.spans = _spans(settings, served)
    storage = settings.storage
    epoch = epoch_for(storage.redis_url, storage.data_dir, storage.redis_key_prefix)
    store.on_credentials_changed(epoch.bump)  # every process drops revoked keys at once
    master = env.get("ZDRGATE_MASTER_KEY") or None
    per_minute = settings.limits.failed_auth_per_minute
    failures: AuthFailures = (
        CounterAuthFailures(counters, per_minute)
        if storage.redis_url
        else MemoryAuthFailures(limit=per_minute)
    )
    auth = Authenticator(grant_loader(store), master, epoch, failures)
    lifetime = dt.timedelta(hours=settings.accounts.session_hours)
    challenges = (
        RedisChallenges(storage.redis_url, storage.redis_key_prefix)
        if storage.redis_url
        else MemoryChallenges()
    )
    keys = keys or load_key_ring(settings.receipts, Path(settings.storage.data_dir), env)
    receipts = ReceiptSigner(keys, issuer_of(settings))
    return AppState(
        settings=settings,
        gateway=gateway,
        auth=auth,
        store=store,
        sessions=Sessions(store, auth, lifetime),
        passkeys=Passkeys(store, challenges),
        receipts=receipts,
        base_catalog=base,
    )


def issuer_of(settings: Settings) -> str:
    server = settings.server
    return settings.receipts.issuer or f"http://{server.host}:{server.port}"


def transport_for(up: UpstreamSettings) -> Transport:
    """The upstream transport: direct, or through the operator's CONNECT proxy."""
    limits = (up.connect_timeout_seconds, up.read_timeout_seconds, up.max_response_bytes)
    if up.egress_proxy:
        return ProxyTransport(up.egress_proxy, *limits)
    return HTTP1Transport(*limits)


def _spans(settings: Settings, served: Catalog) -> SpanSink:
    try:
        from zdrgate.tracing import SpanRecorder  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ConfigError(
            "telemetry.otlp_endpoint is set but OpenTelemetry is not installed: "
            "pip install 'zdrgate[otel]'"
        ) from exc
    conf = settings.telemetry
    return SpanRecorder.otlp(conf.otlp_endpoint, served, conf.service_name)


async def _share_health(state: AppState) -> HealthSync | None:
    """With Redis, endpoint failures seen by one instance reach all (zdrgate.cluster)."""
    storage = state.settings.storage
    if not storage.redis_url:
        return None
    from zdrgate.cluster import HealthSync  # noqa: PLC0415 - needs the optional redis package

    gateway = state.gateway
    known = {e.id for m in gateway.catalog.models.values() for e in m.endpoints}
    sync = HealthSync(
        gateway.health, storage.redis_url, prefix=storage.redis_key_prefix, known=known
    )
    await sync.start()
    return sync


def fetch_rules(settings: Settings) -> FetchRules:
    conf = settings.images
    return FetchRules(
        max_bytes=conf.max_fetch_bytes,
        max_request_bytes=conf.max_fetch_bytes_per_request,
        max_concurrent=conf.max_concurrent_fetches,
        timeout_seconds=conf.fetch_timeout_seconds,
    )


def create_app(settings: Settings | None = None, **kwargs: object) -> Front:
    state = build_state(settings or Settings(), **kwargs)  # type: ignore[arg-type]
    return app_for(state)


def app_for(state: AppState) -> Front:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        storage = state.settings.storage
        migrate.prepare(state.store.engine, migrate_on_start=storage.migrate_on_start)
        proofs = start_proofs(state)
        await state.gateway.dispatcher.start()
        await state.gateway.usage.start()
        await state.gateway.limiter.counters.start()
        health_sync = await _share_health(state)
        # Everything built so far (catalog, modules) lives as long as the process:
        # keep it out of the cyclic GC's full passes, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        # Requests allocate many short-lived objects that reference counting frees;
        # collecting young generations every 700 allocations cost ~8% of CPU per request.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)
        try:
            yield
        finally:
            await state.gateway.limiter.counters.close()
            await stop_proofs(proofs)
            if health_sync is not None:
                await health_sync.close()
            await state.gateway.usage.close()
            await state.gateway.dispatcher.close()
            await state.gateway.assets.close()
            await state.auth.epoch.close()
            await state.passkeys.challenges.close()

    routes = _routes()
    if state.settings.web.enabled:
        routes += WebApp.load(state.settings.web.site_name).routes()
    app = Starlette(
        routes=routes,
        exception_handlers={
            GatewayError: _gateway_error,
            HTTPException: _http_error,
            # The database went away under a route (connection refused, file gone):
            # 503, with no detail of the driver's message (it may quote SQL parameters).
            sa.exc.OperationalError: _database_down,
            sa.exc.InterfaceError: _database_down,
        },
        lifespan=lifespan,
    )
    app.state.zdrgate = state
    return Front(app, state)


def _routes() -> list[Route]:
    table = [
        Route("/healthz", routes.healthz, methods=["GET"]),
        *_sign_in_routes(),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/metrics", metrics_route.metrics, methods=["GET"]),
        FastRoute("/v1/chat/completions", routes.chat_completions, methods=["POST"]),
        Route("/v1/messages", messages.messages, methods=["POST"]),
        *_responses_routes(),
        Route("/v1/images/generations", media_routes.images_generations, methods=["POST"]),
        Route("/v1/embeddings", media_routes.embeddings, methods=["POST"]),
        Route("/v1/models", routes.list_models, methods=["GET"]),
        Route("/.well-known/jwks.json", proof_routes.jwks, methods=["GET"]),
        Route("/v1/receipts/verify", proof_routes.receipts_verify, methods=["POST"]),
        Route("/v1/policy-log", proof_routes.policy_log, methods=["GET"]),
        Route("/v1/models/{author}/{slug}", routes.retrieve_model, methods=["GET"]),
        Route("/v1/models/{author}/{slug}/endpoints", routes.model_endpoints, methods=["GET"]),
    ]
    table += account_routes.ROUTES + admin_routes.ROUTES
    for feature in STORAGE_FEATURES:
        table.append(Route(f"/v1/{feature}", routes.storage_feature, methods=["GET", "POST"]))
        table.append(
            Route(
                f"/v1/{feature}/{{rest:path}}",
                routes.storage_feature,
                methods=["GET", "POST", "DELETE"],
            )
        )
    return table


def _responses_routes() -> list[Route]:
    """The Responses API: stateless, so the routes of stored responses are refused."""
    stored = routes.storage_feature
    return [
        Route("/v1/responses", responses_api.responses, methods=["POST"]),
        Route("/v1/responses/{response_id}", stored, methods=["GET", "DELETE"]),
        Route("/v1/responses/{response_id}/input_items", stored, methods=["GET"]),
        Route("/v1/responses/{response_id}/cancel", stored, methods=["POST"]),
    ]


async def _database_down(request: Request, exc: Exception) -> Any:  # an ASGI response
    # No path: it can carry client-chosen ids and emails (log injection, personal data).
    log.error("database error on an account or admin route: %s", type(exc).__name__)
    return error_response(
        ServiceUnavailable("The gateway's database cannot be reached right now; try again.")
    )


def _sign_in_routes() -> list[Route]:
    post = ["POST"]
    passkeys = passkey_routes
    return [
        Route("/auth/login", auth_routes.login, methods=post),
        Route("/auth/session", auth_routes.session, methods=["GET"]),
        Route("/auth/logout", auth_routes.logout, methods=post),
        Route("/auth/signup", auth_routes.signup, methods=post),
        Route("/auth/passkey/register/options", passkeys.passkey_register_options, methods=post),
        Route("/auth/passkey/register", passkeys.passkey_register, methods=post),
        Route("/auth/passkey/login/options", passkeys.passkey_login_options, methods=post),
        Route("/auth/passkey/login", passkeys.passkey_login, methods=post),
    ]


async def _gateway_error(request: Request, exc: Exception) -> Any:  # an ASGI response
    assert isinstance(exc, GatewayError)
    if isinstance(exc, AuthBlocked):  # failed sign-ins: say when to try again
        return error_response(exc, {"retry-after": str(exc.retry_after)})
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Any:  # an ASGI response
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(
            MethodNotAllowed(f"Method {request.method} is not allowed on {request.url.path}")
        )
    return error_response(NotFound(f"Unknown route: {request.method} {request.url.path}"))
