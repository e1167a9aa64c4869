"""The audit's fake providers: the model ids the probes ask for, each routed to a
behaviour of the loopback fakes (:mod:`zdrgate.audit.fakes`).

Usage::

    settings = {..., "providers": fake_providers("http://127.0.0.1:PORT/v1")}
    print(fakes_toml("http://127.0.0.1:PORT/v1"))   # for a deployment's config file
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

# protocol -> (model id, the fake's behaviour, input modalities, output modalities)
MODELS = {
    "openai": [("audit/openai", "echo", ["text", "image"], ["text"]),
               ("audit/error", "error-echo", ["text"], ["text"]),
               ("audit/crash", "crash-echo", ["text"], ["text"]),
               ("audit/die", "die", ["text"], ["text"]),
               ("audit/hold", "hold", ["text"], ["text"]),
               ("audit/image", "gpt-image-1", ["text"], ["image"]),
               ("audit/embed", "embed", ["text"], ["embeddings"])],
    "anthropic": [("audit/anthropic", "echo", ["text"], ["text"])],
    "gemini": [("audit/gemini", "echo", ["text"], ["text"])],
}
API_KEY = "audit-upstream-key"
EVIDENCE = "https://example.invalid/audit"


def fake_providers(base_url: str, today: dt.date | None = None) -> dict[str, Any]:
    policy = {"retention_days": 0, "trains_on_data": False, "evidence": EVIDENCE,
              "verified_on": today or dt.date.today()}
    return {
        f"audit-{protocol}": {
            "protocol": protocol, "base_url": base_url, "api_key": API_KEY, "policy": policy,
            "models": [{"id": i, "upstream_id": u, "input_modalities": inp,
                        "output_modalities": out} for i, u, inp, out in rows],
        }
        for protocol, rows in MODELS.items()
    }


def fakes_toml(base_url: str, today: dt.date | None = None) -> str:
    """The same providers as TOML, to add to a deployment's config."""
    day = (today or dt.date.today()).isoformat()
    lines: list[str] = []
    for protocol, rows in MODELS.items():
        name = f"providers.audit-{protocol}"
        lines += [f"[{name}]", f'protocol = "{protocol}"', f"base_url = {_q(base_url)}",
                  f"api_key = {_q(API_KEY)}", "", f"[{name}.policy]", "retention_days = 0",
                  "trains_on_data = false", f"evidence = {_q(EVIDENCE)}",
                  f'verified_on = "{day}"', ""]
        for model, upstream, inputs, outputs in rows:
            lines += [f"[[{name}.models]]", f"id = {_q(model)}", f"upstream_id = {_q(upstream)}",
                      f"input_modalities = {_q(inputs)}", f"output_modalities = {_q(outputs)}",
                      ""]
    return "\n".join(lines)


def _q(value: object) -> str:
    """A TOML string or array of strings (JSON's escaping is valid TOML for these)."""
    return orjson.dumps(value).decode()
