"""The OpenAI protocol (chat completions, images, embeddings), spoken by OpenAI and
every OpenAI-compatible vendor: a vendor is catalog data, not code."""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.errors import classify
from zdrgate.protocols.openai.chat import OpenAIChat
from zdrgate.protocols.openai.media import OpenAIEmbeddings, OpenAIImages
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = OpenAIChat()
SPEC = ProtocolSpec(
    name=Protocol.OPENAI,
    classify=classify,
    auth=Auth.BEARER,
    chat=_CHAT,
    stream=_CHAT,
    images=OpenAIImages(),
    embeddings=OpenAIEmbeddings(),
)

__all__ = ["SPEC"]
