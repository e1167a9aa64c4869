"""The OpenAI Responses API: outbound (``chat``, ``request``, ``response``,
``stream``: models OpenAI serves only there, always with ``store: false``) and the
inbound ``/v1/responses`` API zdrgate serves (``inbound``), stateless."""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.errors import classify
from zdrgate.protocols.responses.chat import ResponsesChat
from zdrgate.protocols.responses.inbound import INBOUND
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = ResponsesChat()
SPEC = ProtocolSpec(
    name=Protocol.RESPONSES,
    classify=classify,
    auth=Auth.BEARER,
    chat=_CHAT,
    stream=_CHAT,
    one_choice_per_call=True,
    inbound=INBOUND,
)

__all__ = ["SPEC"]
