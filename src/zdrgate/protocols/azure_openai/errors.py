"""Azure OpenAI's errors: OpenAI's envelope, plus the content filter's.

A prompt the content filter blocks is a 400 whose ``error.code`` is ``content_filter``
(``contentFilter`` on older image APIs, or only ``innererror.code``
``ResponsibleAIPolicyViolation``), with the filter's verdicts in ``innererror``. It is
classified as OpenAI's ``content_filter`` code; the rest of the body (message, verdicts,
a revised prompt) is dropped like any upstream error body.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import orjson

from zdrgate.protocols import errors
from zdrgate.protocols.errors import UpstreamErrorInfo

_FILTER_CODES = frozenset({"content_filter", "contentFilter", "ResponsibleAIPolicyViolation"})


def classify(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamErrorInfo:
    info = errors.classify(status, headers, body)
    if info.code in (None, "invalid_request_error") and _filtered(body):
        return dataclasses.replace(info, code="content_filter")
    return info


def _filtered(body: bytes) -> bool:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return False
    inner = error.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return error.get("code") in _FILTER_CODES or inner_code in _FILTER_CODES
