"""The Anthropic Messages API zdrgate serves (``POST /v1/messages``): the request
model (``models``), its translation to the canonical chat request (``request``), and
the answer and stream events spelled back (``render``)."""

from zdrgate.errors import GatewayError
from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.anthropic.inbound.render import PING, MessageEvents, error_body, to_message
from zdrgate.protocols.anthropic.inbound.request import to_chat_request
from zdrgate.protocols.common import JSON
from zdrgate.protocols.spec import InboundCodec


def _message(completion: JSON, request: MessagesRequest) -> JSON:
    return to_message(completion)


def _events(request: MessagesRequest) -> MessageEvents:
    return MessageEvents(request.model)


def _error(error: GatewayError) -> JSON:
    return error_body(error.status, error.message, error.code)


INBOUND = InboundCodec(
    path="/v1/messages",
    request_model=MessagesRequest,
    to_chat=to_chat_request,
    render=_message,
    events=_events,
    error_body=_error,
    keepalive=PING,
    terminator=b"event: message_stop\n",
)

__all__ = ["INBOUND"]
