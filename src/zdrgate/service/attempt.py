"""Failure bookkeeping across the attempts of one request."""

from __future__ import annotations

from dataclasses import dataclass, field

from zdrgate.errors import GatewayError, InvalidRequest, UpstreamUnavailable
from zdrgate.protocols import ErrorKind, UpstreamErrorInfo

_OVERLOAD = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED})


class RejectedByUpstream(InvalidRequest):
    """The upstream found the request itself invalid; other endpoints would too."""

    code = "upstream_rejected_request"


@dataclass(slots=True)
class Attempts:
    kinds: list[ErrorKind] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.kinds)

    def failed(self, kind: ErrorKind) -> None:
        self.kinds.append(kind)

    def final_error(self) -> GatewayError:
        kinds = sorted({k.value for k in self.kinds})
        status = 503 if self.kinds and set(self.kinds) <= _OVERLOAD else 502
        return UpstreamUnavailable(
            f"Every approved zero-retention endpoint failed ({self.count} attempt(s): "
            f"{', '.join(kinds)}). Upstream error messages are not relayed.",
            status=status,
            code="upstream_overloaded" if status == 503 else "upstream_failed",
        )


def rejected(endpoint_id: str, info: UpstreamErrorInfo) -> RejectedByUpstream:
    detail = f"HTTP {info.status}" + (f", code {info.code}" if info.code else "")
    error = RejectedByUpstream(
        f"The endpoint {endpoint_id} rejected the request as invalid ({detail}). zdrgate does "
        "not relay upstream error messages, because they can quote the prompt.",
        param=info.param,
    )
    error.status = info.status if info.status in (413, 422) else 400
    if info.code:
        error.code = info.code
    return error
