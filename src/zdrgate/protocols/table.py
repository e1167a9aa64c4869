"""The one table of wire protocols: protocol name -> :class:`ProtocolSpec`.

The config's allowed ``protocol`` names come from here, and
``tests/test_protocol_table.py`` checks that every protocol the catalog can name has a
spec and runs the shared parity tests.
"""

from __future__ import annotations

from types import MappingProxyType

from zdrgate.catalog.model import Protocol
from zdrgate.protocols import (
    anthropic,
    anthropic_vertex,
    azure_openai,
    bedrock,
    gemini,
    openai,
)
from zdrgate.protocols.spec import ProtocolSpec

SPECS: MappingProxyType[Protocol, ProtocolSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            openai.SPEC,
            anthropic.SPEC,
            anthropic_vertex.SPEC,
            gemini.SPEC,
            azure_openai.SPEC,
            bedrock.SPEC,
        )
    }
)


def spec_for(protocol: Protocol) -> ProtocolSpec:
    """The spec of ``protocol`` (every ``Protocol`` has one: a test checks it)."""
    return SPECS[protocol]


def protocol_names() -> tuple[str, ...]:
    """The names a config may use for ``providers.<id>.protocol``."""
    return tuple(p.value for p in SPECS)
