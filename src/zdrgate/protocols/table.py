"""The one table of wire protocols: protocol name -> :class:`ProtocolSpec`.

The config's allowed ``protocol`` names come from here, and
``tests/test_protocol_table.py`` checks that every protocol the catalog can name has a
spec and runs the shared parity tests.
"""

from __future__ import annotations

from types import MappingProxyType

from zdrgate.catalog.model import Endpoint, Protocol
from zdrgate.protocols import (
    anthropic,
    anthropic_vertex,
    azure_openai,
    bedrock,
    gemini,
    openai,
    responses,
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
            responses.SPEC,
        )
    }
)

# Protocols a provider also speaks for some models, by (provider's, model's): OpenAI and
# Azure serve some models (the -pro and -codex ones) only on the Responses API.
VARIANTS: MappingProxyType[tuple[Protocol, Protocol], ProtocolSpec] = MappingProxyType(
    {
        (Protocol.OPENAI, Protocol.RESPONSES): responses.SPEC,
        (Protocol.AZURE_OPENAI, Protocol.RESPONSES): azure_openai.RESPONSES,
    }
)


def spec_for(protocol: Protocol) -> ProtocolSpec:
    """The spec of ``protocol`` (every ``Protocol`` has one: a test checks it)."""
    return SPECS[protocol]


def protocol_names() -> tuple[str, ...]:
    """The names a config may use for ``providers.<id>.protocol``."""
    return tuple(p.value for p in SPECS)


def endpoint_spec(endpoint: Endpoint) -> ProtocolSpec:
    """The spec an endpoint's calls speak: its provider's, or the variant of it that the
    catalog or config names for the endpoint's model (``Endpoint.protocol``)."""
    home = endpoint.provider.protocol
    if endpoint.protocol is None or endpoint.protocol is home:
        return SPECS[home]
    return VARIANTS[(home, endpoint.protocol)]


def variant_names(protocol: Protocol) -> tuple[str, ...]:
    """The protocols a model of a ``protocol`` provider may speak instead of it."""
    return tuple(theirs.value for mine, theirs in VARIANTS if mine is protocol)
