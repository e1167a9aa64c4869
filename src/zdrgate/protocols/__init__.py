"""Wire protocols: one package per protocol (``openai``, ``anthropic``,
``anthropic_vertex``, ``gemini``, ``azure_openai``, ``bedrock``, ``responses``), each
exporting one :class:`ProtocolSpec`, and :mod:`.table` mapping protocol names to them.
Pure translation between the canonical (OpenAI-shaped) form and the protocol: no I/O,
no secrets, no policy.

Usage::

    from zdrgate.protocols import endpoint_spec
    call = endpoint_spec(endpoint).require_chat().build_chat(endpoint, request)
"""

from zdrgate.protocols.base import StreamDecoder, UpstreamCall
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError, UpstreamErrorInfo
from zdrgate.protocols.spec import ProtocolSpec
from zdrgate.protocols.table import SPECS, endpoint_spec, spec_for

__all__ = [
    "SPECS",
    "ErrorKind",
    "ProtocolSpec",
    "StreamDecoder",
    "StreamProtocolError",
    "UpstreamCall",
    "UpstreamErrorInfo",
    "endpoint_spec",
    "spec_for",
]
