"""The Gemini API protocol (Google AI Studio): chat, image output, embeddings.

AI Studio cannot fetch an image URL, so the spec says ``inline_images_only``: the
service fetches such images (SSRF-guarded) and sends their bytes.
"""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.gemini.chat import GeminiChat
from zdrgate.protocols.gemini.errors import classify
from zdrgate.protocols.gemini.media import GeminiEmbeddings, GeminiImages
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = GeminiChat()
SPEC = ProtocolSpec(
    name=Protocol.GEMINI,
    classify=classify,
    auth=Auth.X_GOOG_API_KEY,
    chat=_CHAT,
    stream=_CHAT,
    images=GeminiImages(),
    embeddings=GeminiEmbeddings(),
    inline_images_only=True,
)

__all__ = ["SPEC"]
