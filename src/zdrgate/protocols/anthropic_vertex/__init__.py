"""Claude on Google Vertex AI (``anthropic-vertex``): Anthropic's Messages protocol
over Vertex's ``rawPredict``, authenticated with a bearer (OAuth) token."""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.anthropic.errors import classify
from zdrgate.protocols.anthropic_vertex.chat import AnthropicVertexChat
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = AnthropicVertexChat()
SPEC = ProtocolSpec(
    name=Protocol.ANTHROPIC_VERTEX,
    classify=classify,
    auth=Auth.BEARER,
    chat=_CHAT,
    stream=_CHAT,
    one_choice_per_call=True,
)

__all__ = ["SPEC"]
