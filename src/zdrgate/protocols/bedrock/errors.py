"""Bedrock's errors: the exception name in ``x-amzn-ErrorType``
(``ThrottlingException:http://internal.amazon.com/coral/...``) or the body's
``__type`` (``com.amazon.coral.service#ValidationException``), the one classifier of
the protocol. The same names, camel-cased, end a ConverseStream as exception events.

The name decides the kind (an expired token comes as a 403 *or* a 400, a model not
ready as a 429); the status decides for names not listed. The body's ``message``,
which can quote the prompt, is never read.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from zdrgate.protocols.errors import (
    ErrorKind,
    UpstreamErrorInfo,
    kind_for_status,
    known_code,
    retry_after,
)

KIND_BY_NAME = {
    "ThrottlingException": ErrorKind.RATE_LIMITED,
    "ServiceQuotaExceededException": ErrorKind.RATE_LIMITED,
    "TooManyRequestsException": ErrorKind.RATE_LIMITED,
    "ModelNotReadyException": ErrorKind.OVERLOADED,
    "ServiceUnavailableException": ErrorKind.OVERLOADED,
    "ModelTimeoutException": ErrorKind.TIMEOUT,
    "InternalServerException": ErrorKind.SERVER_ERROR,
    "ModelErrorException": ErrorKind.SERVER_ERROR,
    "ModelStreamErrorException": ErrorKind.SERVER_ERROR,
    "AccessDeniedException": ErrorKind.AUTH_FAILED,
    "UnrecognizedClientException": ErrorKind.AUTH_FAILED,
    "InvalidSignatureException": ErrorKind.AUTH_FAILED,
    "IncompleteSignatureException": ErrorKind.AUTH_FAILED,
    "MissingAuthenticationTokenException": ErrorKind.AUTH_FAILED,
    "ExpiredTokenException": ErrorKind.AUTH_FAILED,
    "ResourceNotFoundException": ErrorKind.NOT_FOUND,
    "ValidationException": ErrorKind.BAD_REQUEST,
}
# A model that is not ready is said to be worth retrying shortly.
_RETRY_NOT_READY = 1.0


def exception_name(headers: Mapping[str, str], body: bytes) -> str | None:
    """The AWS exception name of an error response, if it is one Bedrock documents."""
    raw = headers.get("x-amzn-errortype") or _body_type(body) or ""
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1]
    return name if name in KIND_BY_NAME else None


def _body_type(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get("__type") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else None


def stream_exception_kind(name: str) -> ErrorKind:
    """The kind of a ConverseStream exception event (``throttlingException``)."""
    return KIND_BY_NAME.get(name[:1].upper() + name[1:], ErrorKind.SERVER_ERROR)


def classify(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamErrorInfo:
    name = exception_name(headers, body)
    kind = KIND_BY_NAME[name] if name else kind_for_status(status)
    wait = retry_after(headers)
    if wait is None and name == "ModelNotReadyException":
        wait = _RETRY_NOT_READY
    return UpstreamErrorInfo(kind=kind, status=status, code=known_code(name), retry_after=wait)
