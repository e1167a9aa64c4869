"""Google's error bodies: ``{"error": {"code": 400, "status": "INVALID_ARGUMENT",
"details": [...]}}``, the one classifier of the Gemini protocol (chat, images and
embeddings alike)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from zdrgate.protocols.errors import (
    ErrorKind,
    UpstreamErrorInfo,
    kind_for_status,
    known_code,
    retry_after,
)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamErrorInfo:
    """Google's error body: ``status`` is the machine code; an invalid key is a 400
    (reason ``API_KEY_INVALID``) but is an auth failure; ``RetryInfo`` says when."""
    error = _error_of(body)
    kind = kind_for_status(status)
    reasons = {d.get("reason") for d in _details(error)}
    if "API_KEY_INVALID" in reasons:
        kind = ErrorKind.AUTH_FAILED
    return UpstreamErrorInfo(
        kind=kind,
        status=status,
        code=known_code(error.get("status")),
        retry_after=retry_after(headers) or _retry_delay(error),
    )


def _error_of(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else {}


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(error: dict[str, Any]) -> float | None:
    for detail in _details(error):
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                return None
    return None
