"""Chat request fields OpenAI publishes that zdrgate refuses, each with its own code.

They are declared on the request model (so a client gets the specific reason, not
"unrecognized argument"), hidden from ``/openapi.json``'s accepted properties and
listed there under ``x-zdrgate-refused`` instead, and refused after validation by
:func:`refusal_of`. docs/api.md ("Chat request fields") has the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    code: str
    why: str
    applies: Callable[[Any], bool] = lambda value: value is not None
    value: str | None = None  # refused only with this value (documentation)


REFUSALS = (
    Refusal(
        "web_search_options",
        "web_search_refused",
        "web search sends the query to a search engine, which no zero-retention record covers",
    ),
    Refusal(
        "audio",
        "audio_output_refused",
        "audio output is kept by the provider for later turns (message.audio.id, expires_at), "
        "which no zero-retention record covers",
    ),
    Refusal(
        "modalities",
        "audio_output_refused",
        "audio output is kept by the provider for later turns (message.audio.id, expires_at), "
        "which no zero-retention record covers",
        lambda value: isinstance(value, list) and "audio" in value,
        "audio",
    ),
    Refusal(
        "prompt_cache_retention",
        "storage_feature_refused",
        "extended prompt caching (24h) keeps the prompt's cached state in provider storage",
        lambda value: value == "24h",
        "24h",
    ),
)
REFUSED_FIELDS = frozenset(r.field for r in REFUSALS if r.field != "modalities")
REFUSAL_CODES = frozenset(r.code for r in REFUSALS)


def openapi_refusals() -> list[Any]:
    """The table as ``/openapi.json`` shows it (``x-zdrgate-refused``)."""
    return [
        {"field": r.field, "code": r.code, "why": r.why, **({"value": r.value} if r.value else {})}
        for r in REFUSALS
    ]


def refusal_of(values: dict[str, Any]) -> Refusal | None:
    """The first refusal that applies to the request's field values, if any."""
    for refusal in REFUSALS:
        if refusal.applies(values.get(refusal.field)):
            return refusal
    return None
