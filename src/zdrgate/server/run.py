"""Starting the server: bootstrap the first key, then hand the app to uvicorn."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import uvicorn

from zdrgate.accounts.keys import generate
from zdrgate.accounts.store import Store
from zdrgate.config import Settings, load_settings
from zdrgate.server.app import app_for, build_state

log = logging.getLogger("zdrgate")


def bootstrap_admin_key(store: Store, master_key: str | None) -> str | None:
    """With no key configured at all, create an admin key; return it to print once."""
    store.migrate()
    if master_key or store.count_keys():
        return None
    key = generate()
    store.add_key(key, name="first admin key", is_admin=True)
    return key.plaintext


def run(
    settings: Settings, *, host: str | None, port: int | None, workers: int, config_path: str | None
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    store = Store(settings.storage.database_url)
    created = bootstrap_admin_key(store, os.environ.get("ZDRGATE_MASTER_KEY"))
    store.close()
    if created:
        sys.stderr.write(
            "\nNo API key was configured, so zdrgate created an admin key. It is shown once\n"
            f"and stored only as a hash:\n\n    {created}\n\n"
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # it would write client addresses
        "proxy_headers": False,  # X-Forwarded-* are never trusted nor forwarded
        "server_header": False,
        "log_level": "warning",
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
    }
    sys.stderr.write(f"zdrgate serving on http://{host}:{port}/v1\n")
    if workers > 1:
        if config_path:
            os.environ["ZDRGATE_CONFIG"] = config_path
        uvicorn.run(
            "zdrgate.server.run:app_from_environment", factory=True, workers=workers, **options
        )
        return
    uvicorn.run(app_for(build_state(settings)), **options)


def app_from_environment() -> object:
    """Factory for worker processes: settings from $ZDRGATE_CONFIG."""
    return app_for(build_state(load_settings()))
