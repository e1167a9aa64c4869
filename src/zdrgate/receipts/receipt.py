"""Privacy receipts: what served one request, signed; and checking one.

Usage::

    signer = ReceiptSigner(ring, issuer="https://gw.example")
    token = signer.sign(new_request_id(), facts, stripped, digest(request_body), digest(body))
    result = verify_receipt(token, ring.verification_keys(), request_body, body)
    result.ok, result.claims, result.checks

A receipt's claims (docs/proofs.md): ``iss``, ``iat``, ``jti`` (the request id),
``model``, ``endpoint``, ``provider``, ``region``, ``origin``, ``policy`` (the record's
``sha256:`` digest, as the endpoints route serves it), ``verified_on``,
``retention_days``, ``trains`` (always false: nothing else is routable),
``stripped`` (request fields and headers not forwarded), ``req`` and ``res`` (sha256
of the request body as received and of the response body as sent; ``res`` is null in
the decision receipt a stream's headers carry). Nothing in a receipt is content.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zdrgate.receipts import jws
from zdrgate.receipts.keys import KeyRing

TYP = "zdr-receipt+jws"
# Request fields the gateway accepts and never forwards (they identify people or make
# a provider store data; ``store`` is sent as false where the protocol has it).
PRIVATE_FIELDS = ("metadata", "prompt_cache_key", "safety_identifier", "store", "user")
# Client headers that would identify the caller. No client header is ever forwarded;
# these are the ones a receipt names when the client sent them.
IDENTIFYING_HEADERS = (
    b"authorization", b"cookie", b"forwarded", b"origin", b"referer", b"user-agent",
    b"x-api-key", b"x-forwarded-for", b"x-real-ip",
)


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What the policy engine approved for one request (metadata only)."""

    model: str
    endpoint: str
    provider: str
    region: str | None
    policy: str
    verified_on: str
    retention_days: float | None
    origin: str = ""  # where the request was sent, scheme://host[:port]


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def stripped(fields: Iterable[str], headers: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """The private request fields the client set and identifying headers it sent,
    none of which left the gateway."""
    names = {k for k, _ in headers}
    return {
        "fields": sorted(set(fields).intersection(PRIVATE_FIELDS)),
        "headers": [h.decode("latin-1") for h in IDENTIFYING_HEADERS if h in names],
    }


class ReceiptSigner:
    def __init__(self, ring: KeyRing, issuer: str, clock: Callable[[], float] = time.time) -> None:
        self.ring = ring
        self.issuer = issuer
        self._clock = clock
        self._signer = jws.signer({"alg": jws.ALG, "kid": ring.kid, "typ": TYP}, ring.signing_key)

    def sign(
        self,
        request_id: str,
        facts: ReceiptFacts,
        stripped: Mapping[str, list[str]],
        req: str,
        res: str | None,
    ) -> str:
        """A compact JWS over the claims; ``req``/``res`` are :func:`digest` strings."""
        return self._signer.sign(
            {
                "iss": self.issuer,
                "iat": int(self._clock()),
                "jti": request_id,
                "model": facts.model,
                "endpoint": facts.endpoint,
                "provider": facts.provider,
                "region": facts.region,
                "policy": facts.policy,
                "verified_on": facts.verified_on,
                "retention_days": facts.retention_days,
                "origin": facts.origin,
                "trains": False,
                "stripped": stripped,
                "req": req,
                "res": res,
            }
        )


@dataclass(slots=True)
class Verification:
    """``ok`` when the signature holds and every body given matches its digest."""

    ok: bool
    claims: dict[str, Any] | None = None
    kid: str | None = None
    checks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"valid": self.ok, "kid": self.kid, "claims": self.claims,
                "checks": self.checks, "problems": self.problems}


def verify_receipt(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    request: bytes | None = None,
    response: bytes | None = None,
) -> Verification:
    """Check the signature against ``keys`` (a JWKS's keys by ``kid``), then ``req``
    against ``request`` and ``res`` against ``response`` where given."""
    try:
        header, claims = jws.verify_compact(token.strip(), keys)
    except jws.InvalidToken as exc:
        return Verification(False, checks={"signature": "failed"}, problems=[str(exc)])
    result = Verification(True, claims, str(header.get("kid")), {"signature": "ok"})
    for name, body in (("req", request), ("res", response)):
        if body is None:
            result.checks[name] = "not checked"
        elif claims.get(name) is None:
            result.checks[name] = "not in receipt"
        elif claims[name] == digest(body):
            result.checks[name] = "ok"
        else:
            result.checks[name] = "mismatch"
            result.ok = False
            result.problems.append(f"the {name} body does not match the receipt's {name} digest")
    return result
