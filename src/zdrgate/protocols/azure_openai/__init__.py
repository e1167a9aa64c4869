"""Azure OpenAI (``azure-openai``): OpenAI's bodies, addressed by the deployment the
operator named for each model, with the key in an ``api-key`` header (or an Entra ID
token as a bearer, with ``auth = "bearer"``). Both Azure APIs: the v1 API (base URL
``https://{resource}.openai.azure.com/openai/v1``, the deployment as ``model``) and the
deployment-path API (base URL ``.../openai``, ``/deployments/{name}/...?api-version=``).
Azure's content-filter annotations are dropped, so answers keep OpenAI's shape.
``RESPONSES`` is the Responses API on the same resource, for the models Azure serves
only there."""

from zdrgate.catalog.model import Auth, Protocol
from zdrgate.protocols.azure_openai.chat import AzureChat
from zdrgate.protocols.azure_openai.errors import classify
from zdrgate.protocols.azure_openai.media import AzureEmbeddings, AzureImages
from zdrgate.protocols.azure_openai.responses import AzureResponsesChat
from zdrgate.protocols.spec import ProtocolSpec

_CHAT = AzureChat()
SPEC = ProtocolSpec(
    name=Protocol.AZURE_OPENAI,
    classify=classify,
    auth=Auth.API_KEY,
    chat=_CHAT,
    stream=_CHAT,
    images=AzureImages(),
    embeddings=AzureEmbeddings(),
    deployments=True,
)

# The Responses API on the same resource, for the models Azure serves only there.
_RESPONSES = AzureResponsesChat()
RESPONSES = ProtocolSpec(
    name=Protocol.RESPONSES,
    classify=classify,
    auth=Auth.API_KEY,
    chat=_RESPONSES,
    stream=_RESPONSES,
    one_choice_per_call=True,
)

__all__ = ["RESPONSES", "SPEC"]
