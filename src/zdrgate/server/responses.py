"""JSON and error responses (orjson)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from zdrgate.errors import GatewayError


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: GatewayError, headers: Mapping[str, str] | None = None) -> Response:
    return JSONBytes(error.envelope(), status_code=error.status, headers=dict(headers or {}))
