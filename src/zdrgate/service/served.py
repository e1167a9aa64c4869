"""Which endpoint served a request: the receipt's headers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from zdrgate.catalog.model import Endpoint
from zdrgate.policy import Approval

if TYPE_CHECKING:
    from zdrgate.limits import Ticket


@dataclass(frozen=True, slots=True)
class Served:
    """Which endpoint served a request, for the response headers (the receipt)."""

    endpoint_id: str
    policy_digest: str
    verified_on: str
    origin: str  # where the request went, scheme://host[:port]
    endpoint: Endpoint = field(compare=False, repr=False)  # for the signed receipt
    limits: tuple[tuple[str, str], ...] = ()  # x-ratelimit-* of the caller's limits

    def with_limits(self, ticket: Ticket) -> Served:
        """This receipt with the caller's rate-limit headers (itself when it has none)."""
        if not ticket.headers:
            return self
        return dataclasses.replace(self, limits=tuple(ticket.headers.items()))

    @classmethod
    def of(cls, approval: Approval) -> Served:
        return _served(approval)

    def headers(self) -> dict[str, str]:
        headers = {
            "x-zdr-endpoint": self.endpoint_id,
            "x-zdr-policy": self.policy_digest,
            "x-zdr-verified-on": self.verified_on,
            "x-zdr-origin": self.origin,
        }
        if self.limits:
            headers.update(self.limits)
        return headers


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
