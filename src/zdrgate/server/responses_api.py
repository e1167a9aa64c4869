"""``POST /v1/responses``: the OpenAI Responses API, stateless, over the one pipeline.

The request is translated to the canonical chat request by the Responses inbound
codec (``protocols/responses/inbound``) and served by the same service calls as
``/v1/chat/completions`` (policy, routing, fallbacks, limits, usage rows, receipts);
the answer is rendered as a ``response`` object or the Responses SSE events. Errors
use the OpenAI envelope. Nothing is stored: the routes that would read a stored
response (``GET``/``DELETE /v1/responses/{id}``, its ``input_items``, ``cancel``)
are storage-feature routes in the table (400 ``storage_feature_refused``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from zdrgate.catalog.model import Protocol
from zdrgate.server.inbound import inbound_codec, serve_inbound


async def responses(request: Request) -> Any:
    return await serve_inbound(inbound_codec(Protocol.RESPONSES), request)
