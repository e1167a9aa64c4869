"""The OpenAI Responses API zdrgate serves (``POST /v1/responses``), stateless: the
request model (``models``), its translation to the canonical chat request
(``request``), the answer (``render``) and the stream events (``events``)."""

from zdrgate.protocols.responses.inbound.events import KEEPALIVE, TERMINATORS, ResponseEvents
from zdrgate.protocols.responses.inbound.models import ResponsesRequest
from zdrgate.protocols.responses.inbound.render import error_body, to_response
from zdrgate.protocols.responses.inbound.request import to_chat_request
from zdrgate.protocols.spec import InboundCodec

INBOUND = InboundCodec(
    path="/v1/responses",
    request_model=ResponsesRequest,
    to_chat=to_chat_request,
    render=to_response,
    events=ResponseEvents,
    error_body=error_body,
    keepalive=KEEPALIVE,
    terminator=TERMINATORS,
)

__all__ = ["INBOUND"]
