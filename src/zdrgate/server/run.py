"""Starting the server: bootstrap the first key, then hand the app to uvicorn."""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from zdrgate.accounts import migrate
from zdrgate.accounts.keys import generate
from zdrgate.accounts.store import Store
from zdrgate.config import ServerSettings, Settings, load_settings
from zdrgate.process import disable_core_dumps
from zdrgate.server.app import app_for, build_state
from zdrgate.server.guard import ConnectionLimits, GuardedHttpToolsProtocol
from zdrgate.server.state import AppState

log = logging.getLogger("zdrgate")


def server_options(server: ServerSettings) -> dict[str, Any]:
    """uvicorn settings for every way zdrgate is served (the test suite uses them too)."""
    limits = ConnectionLimits(
        request_timeout=server.request_timeout_seconds,
        write_timeout=server.write_timeout_seconds,
        max_header_bytes=server.max_header_bytes,
    )
    return {
        "access_log": False,  # it would write client addresses
        "proxy_headers": False,  # X-Forwarded-* are never trusted nor forwarded
        "server_header": False,
        "log_level": "warning",
        "loop": "uvloop",
        # A partial of a module-level class: worker processes unpickle it.
        "http": functools.partial(GuardedHttpToolsProtocol, limits=limits),
        "lifespan": "on",
        "timeout_keep_alive": server.keep_alive_seconds,
        "limit_concurrency": server.max_connections,
    }


SERVER_OPTIONS: dict[str, Any] = server_options(ServerSettings())  # the defaults


FIRST_KEY_FILE = "first-admin-key"


def bootstrap_admin_key(
    store: Store, master_key: str | None, data_dir: str, *, migrate_on_start: bool = True
) -> Path | None:
    """With no key configured at all, create an admin key and write it, once, to a file
    only the owner may read (``storage.data_dir/first-admin-key``); return its path.

    The key itself is never printed: stderr ends up in journald or container logs."""
    migrate.prepare(store.engine, migrate_on_start=migrate_on_start)
    if master_key or store.count_keys():
        return None
    key = generate()
    path = Path(data_dir) / FIRST_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(out.fileno(), 0o600)  # also when the file existed with wider rights
        out.write(key.plaintext + "\n")
    store.add_key(key, name="first admin key", is_admin=True)
    return path


def run(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    config_path: str | None,
    state: AppState | None = None,
) -> None:
    """``zdrgate serve``. ``state``: a prebuilt one (``zdrgate audit``'s crash probe
    serves its fakes this way, through this very function)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    disable_core_dumps()  # a core file would hold the prompts in flight (workers inherit it)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    state = state or build_state(settings)
    created = bootstrap_admin_key(
        state.store,
        os.environ.get("ZDRGATE_MASTER_KEY"),
        settings.storage.data_dir,
        migrate_on_start=settings.storage.migrate_on_start,
    )
    if created:
        sys.stderr.write(
            "\nNo API key was configured, so zdrgate created an admin key and wrote it to\n"
            f"    {created.resolve()}\n(readable by this user only; the database holds only "
            "its hash). Read it, then delete the file.\n\n"
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "timeout_graceful_shutdown": settings.server.shutdown_grace_seconds,
        **server_options(settings.server),
    }
    sys.stderr.write(routable_summary(state) + f"zdrgate serving on http://{host}:{port}/v1\n")
    if workers > 1:
        if config_path:
            os.environ["ZDRGATE_CONFIG"] = config_path
        uvicorn.run(
            "zdrgate.server.run:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=settings.server.worker_start_seconds,
            **options,
        )
        return
    uvicorn.run(app_for(state), **options)


def routable_summary(state: AppState) -> str:
    """One line for the operator: what this gateway can serve right now, and why not."""
    gateway = state.gateway
    today = gateway.today()
    routable = [
        m for m in gateway.catalog.models.values() if gateway.engine.decide(m, today).approvals
    ]
    providers = sorted(
        {
            a.endpoint.provider.id
            for m in routable
            for a in gateway.engine.decide(m, today).approvals
        }
    )
    if not routable:
        return (
            "No model is routable yet: set a provider's API key (e.g. GROQ_API_KEY) or "
            "attest a ZDR agreement; `zdrgate explain MODEL` says what is missing.\n"
        )
    return f"{len(routable)} models routable now, via {', '.join(providers)}.\n"


def app_from_environment() -> object:
    """Factory for worker processes: settings from $ZDRGATE_CONFIG."""
    return app_for(build_state(load_settings()))
