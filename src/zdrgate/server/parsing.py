"""Request bodies into wire models, with OpenAI-style 400s that quote no input."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from zdrgate.errors import InvalidRequest, StorageFeatureRefused
from zdrgate.wire.refusals import REFUSAL_CODES

# Request fields of OpenAI, Gemini and Anthropic APIs that store content provider-side.
STORAGE_FIELDS = frozenset(
    {
        "cachedContent",
        "cached_content",
        "background",
        "previous_response_id",
        "conversation",
        "conversation_id",
        "assistant_id",
        "thread_id",
        "file_ids",
        "container",
    }
)

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], body: bytes) -> M:
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_from(exc) from None


def invalid_from(exc: ValidationError) -> InvalidRequest:
    """The first problem, by location and pydantic's message (which quotes no input)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request. Send valid JSON.",
            code="invalid_json",
        )
    if error["type"] in REFUSAL_CODES:  # a published field zdrgate refuses, and why
        field = str(error.get("ctx", {}).get("field", "")) or None
        return InvalidRequest(error["msg"], param=field, code=error["type"])
    if error["type"] == "extra_forbidden" and loc in STORAGE_FIELDS:
        return StorageFeatureRefused(
            f"'{loc}' makes the provider keep content (cached contents, background runs or "
            "server-side conversation state); zdrgate refuses it by design.",
            param=loc,
        )
    if error["type"] == "extra_forbidden":
        return InvalidRequest(
            f"Unrecognized request argument supplied: {loc}", param=loc, code="unknown_parameter"
        )
    if error["type"] == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{loc}'.", param=loc, code="missing_required_parameter"
        )
    if error["type"] == "model_type" and not loc:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    return InvalidRequest(
        f"Invalid value for '{loc}': {error['msg']}.", param=loc or None, code="invalid_value"
    )
