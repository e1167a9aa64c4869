"""The audit's fake providers as TOML, for a deployment's config file
(``zdrgate audit-fakes`` prints them; ``zdrgate audit --target`` then probes them).

Usage::

    print(providers_toml(fake_providers("http://127.0.0.1:PORT/v1")))
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson


def providers_toml(providers: dict[str, Any]) -> str:
    """``[providers.*]`` tables, their policy and models, from the settings' shape."""
    lines: list[str] = []
    for name, provider in providers.items():
        table = f"providers.{name}"
        lines += [f"[{table}]"]
        lines += [f"{k} = {_value(v)}" for k, v in provider.items()
                  if k not in ("policy", "models")]
        lines += ["", f"[{table}.policy]"]
        lines += [f"{k} = {_value(v)}" for k, v in provider["policy"].items()]
        lines += [""]
        for model in provider["models"]:
            lines += [f"[[{table}.models]]", *(f"{k} = {_value(v)}" for k, v in model.items()),
                      ""]
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A TOML value (JSON's spelling is valid TOML for strings, numbers, booleans and
    arrays of them); dates as ISO strings, as the config reads them."""
    if isinstance(value, dt.date):
        return orjson.dumps(value.isoformat()).decode()
    return orjson.dumps(value).decode()
