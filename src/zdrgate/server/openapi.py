"""The OpenAPI description of zdrgate's own API, served at ``GET /openapi.json``.

Built from the route table and the pydantic wire models, so the request bodies it
documents are the ones the routes validate. Each route needs one line in
:data:`OPERATIONS` (a test fails for a route without one); a storage-feature route is
recognised by its handler and documented as the 400 it always answers.

Usage::

    document = openapi_document(app.routes)   # a JSON-ready dict
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from zdrgate import __version__
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.responses.inbound.models import ResponsesRequest
from zdrgate.server import routes
from zdrgate.server.responses import JSONBytes
from zdrgate.wire.admin import (
    AccountCreate,
    AccountPatch,
    KeyCreate,
    KeyPatch,
    OwnKeyCreate,
    TeamCreate,
    TeamPatch,
)
from zdrgate.wire.auth import LoginRequest, SignupRequest
from zdrgate.wire.chat import ChatRequest
from zdrgate.wire.embeddings import EmbeddingRequest
from zdrgate.wire.images import ImageRequest
from zdrgate.wire.receipts import VerifyRequest


@dataclass(frozen=True, slots=True)
class Operation:
    """What the description says about one method of one route."""

    summary: str
    body: type[BaseModel] | None = None  # the wire model the route validates
    auth: bool = True  # needs ``Authorization: Bearer KEY``
    stream: bool = False  # may answer ``text/event-stream``
    plain_statuses: tuple[int, ...] = ()  # non-2xx answers that are not errors (503 not ready)
    error_schema: str = "Error"  # "AnthropicError" where the route speaks Anthropic's API
    text: bool = False  # answers text/plain (Prometheus), not JSON
    empty: bool = False  # answers 204 without a body


# (method, path as in the route table) -> operation. Add a line with every new route.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation("Liveness", auth=False),
    ("GET", "/readyz"): Operation(
        "Readiness: catalog, database, migrations", auth=False, plain_statuses=(503,)
    ),
    ("GET", "/openapi.json"): Operation("This description", auth=False),
    # Sign-in for the web app (a session cookie; docs/accounts.md, "Sign-in and sessions")
    ("POST", "/auth/login"): Operation("Sign in: a session cookie", LoginRequest, auth=False),
    ("GET", "/auth/session"): Operation("The session of the cookie", auth=False),
    ("POST", "/auth/logout"): Operation("End the session", auth=False, empty=True),
    ("POST", "/auth/signup"): Operation("Make an account", SignupRequest, auth=False),
    ("POST", "/auth/passkey/register/options"): Operation(
        "Passkey creation options (signed in)", auth=False
    ),
    ("POST", "/auth/passkey/register"): Operation("Store a new passkey", auth=False),
    ("POST", "/auth/passkey/login/options"): Operation("Passkey request options", auth=False),
    ("POST", "/auth/passkey/login"): Operation("Sign in with a passkey", auth=False),
    ("POST", "/v1/chat/completions"): Operation(
        "OpenAI chat completions, routed to ZDR endpoints only", ChatRequest, stream=True
    ),
    ("POST", "/v1/messages"): Operation(
        "Anthropic Messages API over any routable model",
        MessagesRequest,
        stream=True,
        error_schema="AnthropicError",  # what the Anthropic SDKs parse
    ),
    ("POST", "/v1/responses"): Operation(
        "OpenAI Responses API, stateless (store is always false)", ResponsesRequest, stream=True
    ),
    ("POST", "/v1/images/generations"): Operation("OpenAI image generation", ImageRequest),
    ("POST", "/v1/embeddings"): Operation("OpenAI embeddings", EmbeddingRequest),
    ("GET", "/v1/models"): Operation("Every catalog model with its ZDR status"),
    ("GET", "/v1/models/{author}/{slug}"): Operation("One model"),
    ("GET", "/v1/models/{author}/{slug}/endpoints"): Operation(
        "A model's endpoints, policy records and why each is (not) routable"
    ),
    ("GET", "/.well-known/jwks.json"): Operation("The receipt signing keys", auth=False),
    ("GET", "/metrics"): Operation("Prometheus metrics, metadata only (admin key)", text=True),
    ("POST", "/v1/receipts/verify"): Operation("Verify a privacy receipt", VerifyRequest),
    ("GET", "/v1/policy-log"): Operation("The signed policy transparency log"),
    # The caller's own account (docs/accounts.md)
    ("GET", "/v1/usage"): Operation("The caller's usage"),
    ("GET", "/v1/account"): Operation("The caller's account"),
    ("GET", "/v1/account/keys"): Operation("The caller's own API keys"),
    ("POST", "/v1/account/keys"): Operation("Create an API key of one's own", OwnKeyCreate),
    ("POST", "/v1/account/keys/{key_id}/rotate"): Operation("Rotate one's own API key"),
    ("POST", "/v1/account/keys/{key_id}/revoke"): Operation("Revoke one's own API key"),
    ("GET", "/v1/account/export"): Operation("GDPR export of the caller's account"),
    ("DELETE", "/v1/account"): Operation("Erase the caller's account"),
    # Administration (an admin key)
    ("GET", "/v1/admin/accounts"): Operation("List accounts"),
    ("POST", "/v1/admin/accounts"): Operation("Create an account", AccountCreate),
    ("GET", "/v1/admin/accounts/{account_id}"): Operation("One account"),
    ("PATCH", "/v1/admin/accounts/{account_id}"): Operation("Change an account", AccountPatch),
    ("DELETE", "/v1/admin/accounts/{account_id}"): Operation("Erase an account"),
    ("GET", "/v1/admin/accounts/{account_id}/export"): Operation("GDPR export of an account"),
    ("POST", "/v1/admin/accounts/{account_id}/sessions/revoke"): Operation(
        "Sign an account out everywhere"
    ),
    ("GET", "/v1/admin/teams"): Operation("List teams"),
    ("POST", "/v1/admin/teams"): Operation("Create a team", TeamCreate),
    ("PATCH", "/v1/admin/teams/{team_id}"): Operation("Change a team", TeamPatch),
    ("DELETE", "/v1/admin/teams/{team_id}"): Operation("Delete a team"),
    ("PUT", "/v1/admin/teams/{team_id}/members/{account_id}"): Operation("Add a member"),
    ("DELETE", "/v1/admin/teams/{team_id}/members/{account_id}"): Operation("Remove a member"),
    ("GET", "/v1/admin/keys"): Operation("List API keys"),
    ("POST", "/v1/admin/keys"): Operation("Create an API key", KeyCreate),
    ("GET", "/v1/admin/keys/{key_id}"): Operation("One API key"),
    ("PATCH", "/v1/admin/keys/{key_id}"): Operation("Change an API key", KeyPatch),
    ("POST", "/v1/admin/keys/{key_id}/rotate"): Operation("Rotate an API key"),
    ("POST", "/v1/admin/keys/{key_id}/revoke"): Operation("Revoke an API key"),
    ("GET", "/v1/admin/usage"): Operation("Usage by day, filtered"),
    ("GET", "/v1/admin/audit"): Operation("The admin audit log"),
}

_STORAGE = Operation("Refused: a provider-side storage feature (400 storage_feature_refused)")
_PARAM = re.compile(r"\{(\w+)(:\w+)?\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The OpenAI error envelope; every error of every route has this shape.",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code", "param"],
            "additionalProperties": False,
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}


ANTHROPIC_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Anthropic's error envelope, on /v1/messages only.",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "code": {"type": ["string", "null"]},
            },
        },
    },
}


def openapi_path(route_path: str) -> str:
    """``/v1/files/{rest:path}`` -> ``/v1/files/{rest}``."""
    return _PARAM.sub(r"{\1}", route_path)


def operation_for(method: str, route: Route) -> Operation | None:
    if route.endpoint is routes.storage_feature:
        return _STORAGE
    return OPERATIONS.get((method, route.path))


def openapi_document(table: Sequence[BaseRoute]) -> dict[str, Any]:
    """The description of every route in ``table`` that :data:`OPERATIONS` knows."""
    found = [
        (method, route, op)
        for route in table
        if isinstance(route, Route)
        for method in sorted(route.methods or ())
        if method != "HEAD" and (op := operation_for(method, route)) is not None
    ]
    schemas = _body_schemas(op.body for _, _, op in found if op.body is not None)
    paths: dict[str, dict[str, Any]] = {}
    for method, route, op in found:
        paths.setdefault(openapi_path(route.path), {})[method.lower()] = _operation(route, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "zdrgate",
            "version": __version__,
            "description": "A gateway that sends prompts only to zero-data-retention "
            "endpoints. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **schemas,
                "Error": ERROR_SCHEMA,
                "AnthropicError": ANTHROPIC_ERROR_SCHEMA,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _body_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Any]:
    unique = list(dict.fromkeys(models))
    _, top = models_json_schema(
        [(m, "validation") for m in unique], ref_template="#/components/schemas/{model}"
    )
    return dict(top.get("$defs", {}))


def _operation(route: Route, op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": _operation_id(route, op),
        "responses": _responses(op),
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name, _ in _PARAM.findall(route.path)
    ]
    if params:
        out["parameters"] = params
    if op.body is not None:
        ref = {"$ref": f"#/components/schemas/{op.body.__name__}"}
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    out["security"] = [{"bearer": []}] if op.auth else []
    return out


def _operation_id(route: Route, op: Operation) -> str:
    name = getattr(route.endpoint, "__name__", "route")
    suffix = "_".join(p for p in re.split(r"\W+", route.path) if p)
    return f"{name}__{suffix}" if op is _STORAGE or "{" in route.path else name


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if op.text:
        success = {"text/plain": {"schema": {"type": "string"}}}
    if op.stream:
        success["text/event-stream"] = {"schema": {}}  # events: see docs/api.md
    ref = {"$ref": f"#/components/schemas/{op.error_schema}"}
    error = {"application/json": {"schema": ref}}
    responses: dict[str, Any] = {"default": {"description": "An error", "content": error}}
    if op.empty:
        responses["204"] = {"description": "Done; no body"}
    elif op is not _STORAGE:
        responses["2XX"] = {"description": "Success", "content": success}
    for status in op.plain_statuses:
        responses[str(status)] = {"description": "An answer, not an error", "content": success}
    return responses


async def openapi_json(request: Request) -> JSONBytes:
    """``GET /openapi.json``: built on request (it is rare) from the app's own routes."""
    return JSONBytes(openapi_document(request.app.routes))
