"""zdrgate: an OpenAI-compatible AI gateway that only routes to zero-data-retention
endpoints, and stores no prompt, completion or image anywhere.

The public Python surface is small: the app factory and the settings loader::

    from zdrgate import create_app, load_settings
    app = create_app(load_settings("zdrgate.toml"))

Imports are lazy so that ``zdrgate models`` does not load the web server.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app", "load_settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Settings", "load_settings"):
        from zdrgate import config  # noqa: PLC0415

        return getattr(config, name)
    if name == "create_app":
        from zdrgate.server.app import create_app  # noqa: PLC0415

        return create_app
    raise AttributeError(name)
