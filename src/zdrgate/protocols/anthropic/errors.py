"""Anthropic error bodies: ``{"type": "error", "error": {"type": "overloaded_error", ...}}``.

The status decides first; the error ``type`` refines it, since ``overloaded_error``
can come with a 529 or a 500. The same types end a stream as an ``error`` event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from zdrgate.protocols.errors import ErrorKind, UpstreamErrorInfo
from zdrgate.protocols.errors import classify as classify_status

KIND_BY_TYPE = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "timeout_error": ErrorKind.TIMEOUT,
}


def classify(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamErrorInfo:
    info = classify_status(status, headers, body)
    kind = KIND_BY_TYPE.get(info.code or "")
    return dataclasses.replace(info, kind=kind) if kind else info
