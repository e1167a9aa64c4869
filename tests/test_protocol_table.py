"""The protocol table is the whole list of wire protocols: every protocol the catalog
and config can name has a spec, every spec is reachable from the config, and every
spec has a fake upstream, so the shared parity tests (test_protocol_parity.py,
test_messages_api.py, parametrized over the table) run over each of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol_fakes import PARITY, PROTOCOLS, running_fakes
from zdrgate.catalog.model import Protocol
from zdrgate.config import ProviderSettings
from zdrgate.protocols import SPECS, ProtocolSpec
from zdrgate.protocols.table import VARIANTS, protocol_names, variant_names

PACKAGES = Path(__file__).parent.parent / "src" / "zdrgate" / "protocols"


def test_every_protocol_has_a_spec_under_its_own_name() -> None:
    assert set(SPECS) == set(Protocol)
    for protocol, spec in SPECS.items():
        assert isinstance(spec, ProtocolSpec)
        assert spec.name is protocol


def test_every_protocol_has_its_own_package() -> None:
    packages = {p.name for p in PACKAGES.iterdir() if (p / "__init__.py").exists()}
    assert {p.value.replace("-", "_") for p in Protocol} <= packages


def test_the_parity_tests_run_over_every_protocol_of_the_table() -> None:
    assert list(protocol_names()) == PROTOCOLS
    variants = [f"{home}-via-{theirs}" for home, theirs in VARIANTS]
    assert variants == ["openai-via-responses", "azure-openai-via-responses"]
    assert [*PROTOCOLS, *variants] == PARITY
    with running_fakes() as urls:
        assert set(urls) == set(PARITY)


def test_every_variant_pairs_two_protocols_of_the_table() -> None:
    for (home, theirs), spec in VARIANTS.items():
        assert home in SPECS and theirs in SPECS and home is not theirs
        assert spec.name is theirs and spec.chat is not None and spec.stream is not None
        assert theirs.value in variant_names(home)


def test_every_spec_serves_chat_and_streams() -> None:
    for spec in SPECS.values():
        assert spec.chat is not None and spec.stream is not None


@pytest.mark.parametrize("name", protocol_names())
def test_the_config_accepts_every_protocol_of_the_table(name: str) -> None:
    assert ProviderSettings(protocol=name).protocol == name


def test_the_config_refuses_a_protocol_not_in_the_table() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        ProviderSettings(protocol="carrier-pigeon")


def test_the_inbound_apis_come_from_the_table() -> None:
    """/v1/messages and /v1/responses are served through their specs' inbound codecs."""
    inbound = {p: s.inbound.path for p, s in SPECS.items() if s.inbound is not None}
    assert inbound == {Protocol.ANTHROPIC: "/v1/messages", Protocol.RESPONSES: "/v1/responses"}
    from zdrgate.server.app import _routes  # noqa: PLC0415

    paths = {route.path for route in _routes()}
    assert set(inbound.values()) <= paths
