"""Adapters: pure translation between the canonical (OpenAI-shaped) form and one
upstream wire protocol. No I/O, no secrets, no policy.

``adapter_for(protocol)`` returns the adapter of a protocol.
"""

from zdrgate.protocols.base import (
    ChatAdapter,
    ErrorKind,
    StreamDecoder,
    UpstreamCall,
    UpstreamErrorInfo,
)
from zdrgate.protocols.table import adapter_for

__all__ = [
    "ChatAdapter",
    "ErrorKind",
    "StreamDecoder",
    "UpstreamCall",
    "UpstreamErrorInfo",
    "adapter_for",
]
