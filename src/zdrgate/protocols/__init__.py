"""Wire protocols: one package per protocol (``openai``, ``anthropic``,
``anthropic_vertex``, ``gemini``, ``bedrock``), each exporting one :class:`ProtocolSpec`, and
:mod:`.table` mapping protocol names to them. Pure translation between the canonical
(OpenAI-shaped) form and the protocol: no I/O, no secrets, no policy.

Usage::

    from zdrgate.protocols import spec_for
    call = spec_for(endpoint.provider.protocol).require_chat().build_chat(endpoint, request)
"""

from zdrgate.protocols.base import StreamDecoder, UpstreamCall
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError, UpstreamErrorInfo
from zdrgate.protocols.spec import ProtocolSpec
from zdrgate.protocols.table import SPECS, spec_for

__all__ = [
    "SPECS",
    "ErrorKind",
    "ProtocolSpec",
    "StreamDecoder",
    "StreamProtocolError",
    "UpstreamCall",
    "UpstreamErrorInfo",
    "spec_for",
]
