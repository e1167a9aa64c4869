"""The routes of the proofs: the receipt keys as a JWKS, and receipt verification.

``GET /.well-known/jwks.json`` is public (a client verifies receipts without an API
key); ``POST /v1/receipts/verify`` checks a receipt against this deployment's keys.
"""

from __future__ import annotations

from starlette.requests import Request

from zdrgate.receipts import verify_receipt
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import state_of
from zdrgate.wire.receipts import VerifyRequest


async def jwks(request: Request) -> JSONBytes:
    keys = state_of(request).receipts.ring.jwks()
    return JSONBytes(keys, headers={"cache-control": "max-age=300"})


async def receipts_verify(request: Request) -> JSONBytes:
    """200 with ``{"valid": bool, "claims", "checks", "problems"}``: a receipt that
    does not verify is an answer, not a bad request."""
    body = parse_body(VerifyRequest, await request.body())
    keys = state_of(request).receipts.ring.verification_keys()
    result = verify_receipt(body.receipt, keys, body.request, body.response)
    return JSONBytes(result.as_json())
