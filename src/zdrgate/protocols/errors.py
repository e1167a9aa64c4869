"""Upstream failures as kinds, and turning an error status (and body) into an
``UpstreamErrorInfo``.

The body is read only for a machine-readable code and parameter name, each kept
only if it looks like an identifier; the message, which often quotes the prompt, is
never read out. Each protocol's one classifier (its spec's ``classify``) builds on
:func:`classify`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import orjson


class ErrorKind(StrEnum):
    """What went wrong upstream, as a kind: the body that said so is dropped."""

    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    AUTH_FAILED = "upstream_auth_failed"
    NOT_FOUND = "upstream_model_not_found"
    BAD_REQUEST = "bad_request"
    PROTOCOL_ERROR = "protocol_error"

    @property
    def retryable(self) -> bool:
        """Whether the next endpoint may be tried. A request the upstream found
        invalid would be invalid elsewhere too."""
        return self is not ErrorKind.BAD_REQUEST


@dataclass(frozen=True, slots=True)
class UpstreamErrorInfo:
    kind: ErrorKind
    status: int | None = None
    code: str | None = None  # an allowlisted machine code, e.g. context_length_exceeded
    param: str | None = None
    retry_after: float | None = None




class StreamProtocolError(Exception):
    """The upstream stream was malformed or ended early (carries no content)."""

    def __init__(self, kind: ErrorKind, what: str) -> None:
        super().__init__(what)
        self.kind = kind


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


# The machine codes upstreams document, the only ones relayed (to the client's error
# and the usage row): any other string an upstream chooses is dropped, not repeated.
KNOWN_CODES = frozenset(
    {
        # OpenAI and OpenAI-compatible APIs (error.code, or error.type)
        "context_length_exceeded", "invalid_request_error", "invalid_api_key",
        "insufficient_quota", "rate_limit_exceeded", "model_not_found", "invalid_value",
        "invalid_type", "unsupported_parameter", "unsupported_value", "unknown_parameter",
        "missing_required_parameter", "string_above_max_length", "array_above_max_length",
        "integer_below_min_value", "integer_above_max_value", "empty_array",
        "content_policy_violation", "content_filter", "invalid_image", "invalid_image_url",
        "image_too_large", "invalid_prompt", "invalid_json", "server_error", "tokens",
        "requests", "moderation_blocked", "image_generation_user_error",
        # Anthropic error types
        "authentication_error", "permission_error", "not_found_error", "request_too_large",
        "rate_limit_error", "api_error", "overloaded_error", "timeout_error", "billing_error",
        # Google's canonical status names (Gemini, Vertex)
        "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE", "UNAUTHENTICATED",
        "PERMISSION_DENIED", "NOT_FOUND", "ABORTED", "ALREADY_EXISTS", "RESOURCE_EXHAUSTED",
        "CANCELLED", "DATA_LOSS", "UNKNOWN", "INTERNAL", "NOT_IMPLEMENTED", "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        # AWS exception names (Bedrock: x-amzn-ErrorType, __type, stream exceptions)
        "ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException",
        "ModelNotReadyException", "ServiceUnavailableException", "ModelTimeoutException",
        "InternalServerException", "ModelErrorException", "ModelStreamErrorException",
        "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
        "IncompleteSignatureException", "MissingAuthenticationTokenException",
        "ExpiredTokenException", "ResourceNotFoundException", "ValidationException",
    }
)


def known_code(value: object) -> str | None:
    """``value`` if it is a documented upstream error code (:data:`KNOWN_CODES`)."""
    return value if isinstance(value, str) and value in KNOWN_CODES else None


def identifier(value: object) -> str | None:
    """``value`` if it is a short identifier-like string, else None."""
    return value if isinstance(value, str) and _IDENT.match(value) else None


def error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(code, param) from a JSON error body ``{"error": {"code", "param"}}``: the code
    only if documented, the parameter only if it looks like one."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None
    code = known_code(error.get("code")) or known_code(error.get("type"))
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
