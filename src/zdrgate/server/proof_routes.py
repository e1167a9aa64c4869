"""The routes of the proofs: the receipt keys as a JWKS, receipt verification, the
policy transparency log.

``GET /.well-known/jwks.json`` is public (a client verifies receipts without an API
key); ``POST /v1/receipts/verify`` checks a receipt against this deployment's keys;
``GET /v1/policy-log`` serves the log's entries.
"""

from __future__ import annotations

from starlette.requests import Request

from zdrgate.errors import InvalidRequest
from zdrgate.policylog import PolicyLog
from zdrgate.receipts import verify_receipt
from zdrgate.server.parsing import parse_body
from zdrgate.server.responses import JSONBytes
from zdrgate.server.routes import authenticate, state_of
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


PAGE_MAX = 1000


async def policy_log(request: Request) -> JSONBytes:
    """``GET /v1/policy-log?after=SEQ&limit=N``: entries in order, each with its hash
    and signature (``zdrgate policy-log verify --file`` checks a saved copy)."""
    state = state_of(request)
    await authenticate(request)
    after = _int_param(request, "after", 0)
    limit = min(_int_param(request, "limit", PAGE_MAX), PAGE_MAX)
    entries = PolicyLog(state.store.engine).entries(after, limit)
    return JSONBytes({"object": "list", "data": [e.as_json() for e in entries]})


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 18:  # past that no database integer holds it
        raise InvalidRequest(f"'{name}' must be a non-negative integer.", param=name)
    return int(raw)

