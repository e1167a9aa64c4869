"""AWS Bedrock: the Converse and ConverseStream APIs (chat, tools, images).

Calls are signed with SigV4 for the ``bedrock`` service from the AWS credential
variables, or carry a Bedrock API key as a bearer token (the dispatcher does either).
Converse takes image bytes only, so the spec says ``inline_images_only``: the service
fetches an image URL (SSRF-guarded) and sends its bytes.
"""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.bedrock.chat import BedrockChat
from zdrgate.protocols.bedrock.errors import classify
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = BedrockChat()
SPEC = ProtocolSpec(
    name=Protocol.BEDROCK,
    classify=classify,
    auth=Auth.AWS_SIGV4,
    chat=_CHAT,
    stream=_CHAT,
    inline_images_only=True,
    signing_name="bedrock",
    one_choice_per_call=True,
)

__all__ = ["SPEC"]
