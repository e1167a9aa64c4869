"""The Anthropic Messages API zdrgate serves (``POST /v1/messages``): the request
model (``models``), its translation to the canonical chat request (``request``), and
the answer and stream events spelled back (``render``)."""

from zdrgate.protocols.anthropic.inbound.models import MessagesRequest
from zdrgate.protocols.anthropic.inbound.render import PING, MessageEvents, error_body, to_message
from zdrgate.protocols.anthropic.inbound.request import to_chat_request
from zdrgate.protocols.spec import InboundCodec

INBOUND = InboundCodec(
    path="/v1/messages",
    request_model=MessagesRequest,
    to_chat=to_chat_request,
    render=to_message,
    events=MessageEvents,
    error_body=error_body,
    keepalive=PING,
    terminator=b"event: message_stop\n",
)

__all__ = ["INBOUND"]
