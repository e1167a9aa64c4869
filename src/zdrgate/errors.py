"""The one exception tree of zdrgate.

Every error a client can see is a ``GatewayError`` and renders as the OpenAI
envelope ``{"error": {"message", "type", "code", "param"}}`` with its status::

    ZdrgateError
    ├── ConfigError                  operator config or catalog is invalid (start-up)
    └── GatewayError                 answered to a client
        ├── InvalidRequest           400 invalid_request_error
        │   ├── BodyTooLarge         413
        │   └── StorageFeatureRefused 400 (a feature that makes a provider store data)
        ├── AuthenticationFailed     401 authentication_error
        ├── PermissionDenied         403 permission_error
        ├── ModelNotFound            404 model not in the catalog
        ├── NoRoutableEndpoint       404 every endpoint excluded by policy (names why)
        ├── BudgetExceeded           402 a key's, account's or team's USD budget is spent
        ├── RateLimited              429 (carries Retry-After and x-ratelimit-* headers)
        ├── ServiceUnavailable       503 the gateway's own storage (database, Redis) is down
        │   └── LimitStoreUnavailable  503 rate limits, budgets or usage cannot be checked
        └── UpstreamUnavailable      502/503 every approved endpoint failed (names kinds)

Messages are built from metadata only (model ids, endpoint ids, reason codes,
error kinds). Never put a prompt, completion or upstream body in one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class ZdrgateError(Exception):
    """Base of every zdrgate error."""


class ConfigError(ZdrgateError):
    """The operator's config or the catalog file is invalid."""


class GatewayError(ZdrgateError):
    status = 500
    type = "api_error"
    code: str | None = "internal_error"
    headers: Mapping[str, str] = _NO_HEADERS
    """Response headers the error carries (``Retry-After`` of a 429); metadata only."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class BodyTooLarge(InvalidRequest):
    status = 413
    code = "request_too_large"


class StorageFeatureRefused(InvalidRequest):
    code = "storage_feature_refused"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "permission_denied"


class ModelNotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class NoRoutableEndpoint(GatewayError):
    """No endpoint of the model passed the policy; nothing was sent upstream."""

    status = 404
    type = "invalid_request_error"
    code = "no_zdr_endpoint"


class BudgetExceeded(GatewayError):
    """A USD budget (per day or month, of the key, its account or its team) is spent."""

    status = 402
    type = "insufficient_quota"
    code = "budget_exceeded"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(
        self, message: str, *, headers: Mapping[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        if headers:
            self.headers = headers



class ServiceUnavailable(GatewayError):
    """The gateway's own database or Redis cannot be reached: refuse rather than skip a
    check (fail closed)."""

    status = 503
    type = "api_error"
    code = "service_unavailable"


class LimitStoreUnavailable(ServiceUnavailable):
    """Rate limits and budgets cannot be checked: the request is refused, never let through."""

    code = "limit_store_unavailable"


class UpstreamUnavailable(GatewayError):
    """Every approved endpoint failed. ``status`` is 503 when all were overloaded."""

    status = 502
    type = "upstream_error"
    code = "upstream_failed"

    def __init__(self, message: str, *, status: int = 502, code: str | None = None):
        super().__init__(message, code=code)
        self.status = status


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"
