"""Which adapter speaks which protocol."""

from __future__ import annotations

from zdrgate.adapters.base import ChatAdapter
from zdrgate.adapters.openai import OpenAIAdapter
from zdrgate.catalog.model import Protocol
from zdrgate.errors import InvalidRequest

_ADAPTERS: dict[Protocol, ChatAdapter] = {Protocol.OPENAI: OpenAIAdapter()}


def adapter_for(protocol: Protocol) -> ChatAdapter:
    adapter = _ADAPTERS.get(protocol)
    if adapter is None:
        raise InvalidRequest(f"protocol {protocol.value!r} is not supported yet")
    return adapter
