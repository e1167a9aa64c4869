"""The Anthropic Messages protocol: outbound (``chat``, ``request``, ``response``,
``stream``) and the inbound ``/v1/messages`` API zdrgate serves (``inbound``)."""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.anthropic.chat import AnthropicChat
from zdrgate.protocols.anthropic.errors import classify
from zdrgate.protocols.anthropic.inbound import INBOUND
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = AnthropicChat()
SPEC = ProtocolSpec(
    name=Protocol.ANTHROPIC,
    classify=classify,
    auth=Auth.X_API_KEY,
    chat=_CHAT,
    stream=_CHAT,
    inbound=INBOUND,
    one_choice_per_call=True,
)

__all__ = ["SPEC"]
