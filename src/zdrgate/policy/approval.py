"""Approvals: proof that the policy engine let one endpoint serve one request.

An ``Approval`` cannot be made outside this package: its constructor demands a seal
object private to this module. :func:`verify` is what the dispatcher calls before it
sends anything: it checks the seal and re-checks the record's freshness, so an
approval kept past its record's verification age is worthless.
"""

from __future__ import annotations

import datetime as dt

from zdrgate.catalog.model import Endpoint

_SEAL = object()


class ForgedApproval(Exception):
    """Something other than the policy engine made or altered an approval."""


class Approval:
    __slots__ = ("_seal", "endpoint", "expires_on", "policy_digest", "policy_hash")

    _seal: object
    endpoint: Endpoint
    policy_digest: str  # the receipt's sha256 of the record, computed once
    policy_hash: int  # hash() of the record's fields, re-checked on every dispatch
    expires_on: dt.date

    def __init__(self, endpoint: Endpoint, expires_on: dt.date, *, seal: object) -> None:
        if seal is not _SEAL:
            raise ForgedApproval("only zdrgate.policy creates approvals")
        object.__setattr__(self, "_seal", seal)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "policy_digest", endpoint.policy.digest())
        object.__setattr__(self, "policy_hash", hash(endpoint.policy))
        object.__setattr__(self, "expires_on", expires_on)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("approvals are immutable")

    def __repr__(self) -> str:
        return f"Approval({self.endpoint.id})"


def mint(endpoint: Endpoint, expires_on: dt.date) -> Approval:
    """Create an approval. Called by the engine only, after every rule passed."""
    return Approval(endpoint, expires_on, seal=_SEAL)


def verify(approval: object, today: dt.date) -> Approval:
    """Return ``approval`` if it is genuine and its record still fresh; raise otherwise."""
    if not isinstance(approval, Approval) or approval._seal is not _SEAL:
        raise ForgedApproval("the dispatcher accepts only approvals from the policy engine")
    if today > approval.expires_on:
        raise ForgedApproval(f"approval for {approval.endpoint.id} has expired")
    # hash() of the frozen record covers every field, at a tenth of the digest's cost.
    if hash(approval.endpoint.policy) != approval.policy_hash:
        raise ForgedApproval(f"policy record of {approval.endpoint.id} changed after approval")
    return approval
