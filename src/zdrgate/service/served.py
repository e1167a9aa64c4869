"""Which endpoint served a request: the receipt's headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from zdrgate.catalog.model import Endpoint
from zdrgate.policy import Approval


@dataclass(frozen=True, slots=True)
class Served:
    """Which endpoint served a request, for the response headers (the receipt)."""

    endpoint_id: str
    policy_digest: str
    verified_on: str
    origin: str  # where the request went, scheme://host[:port]
    endpoint: Endpoint = field(compare=False, repr=False)  # for the signed receipt

    @classmethod
    def of(cls, approval: Approval) -> Served:
        return _served(approval)

    def headers(self) -> dict[str, str]:
        return {
            "x-zdr-endpoint": self.endpoint_id,
            "x-zdr-policy": self.policy_digest,
            "x-zdr-verified-on": self.verified_on,
            "x-zdr-origin": self.origin,
        }


@lru_cache(maxsize=4096)  # approvals live in the engine's decision cache
def _served(approval: Approval) -> Served:
    verified = approval.endpoint.policy.verified_on
    endpoint = approval.endpoint
    return Served(
        endpoint.id,
        approval.policy_digest,
        verified.isoformat() if verified else "",
        endpoint.origin,
        endpoint,
    )
