"""Turning an upstream error status (and body) into an ``UpstreamErrorInfo``.

The body is read only for a machine-readable code and parameter name, each kept
only if it looks like an identifier; the message, which often quotes the prompt, is
never read out. Shared by the protocol adapters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson

from zdrgate.protocols.base import ErrorKind, UpstreamErrorInfo

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_.\[\]-]{0,63}$")


def kind_for_status(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.RATE_LIMITED
    if status in (503, 529):
        return ErrorKind.OVERLOADED
    if status in (408, 504):
        return ErrorKind.TIMEOUT
    if status in (401, 402, 403):  # our credentials or our account, not the request
        return ErrorKind.AUTH_FAILED
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    if 400 <= status < 500:
        return ErrorKind.BAD_REQUEST
    return ErrorKind.PROTOCOL_ERROR


def retry_after(headers: Mapping[str, str]) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            return None
        return value / 1000 if name.endswith("-ms") else value
    return None


def identifier(value: object) -> str | None:
    """``value`` if it is a short identifier-like string, else None."""
    return value if isinstance(value, str) and _IDENT.match(value) else None


def error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(code, param) from a JSON error body ``{"error": {"code", "param"}}``, allowlisted."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None
    code = identifier(error.get("code")) or identifier(error.get("type"))
    return code, identifier(error.get("param"))


def classify(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamErrorInfo:
    code, param = error_fields(body)
    return UpstreamErrorInfo(
        kind=kind_for_status(status),
        status=status,
        code=code,
        param=param,
        retry_after=retry_after(headers),
    )
