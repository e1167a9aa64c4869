"""docs/security.md stays true: every test its table names exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def test_every_named_test_exists() -> None:
    doc = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    refs = TEST_REF.findall(doc)
    assert len(refs) >= 10
    for path, name in refs:
        source = REPO / path
        assert source.is_file(), path
        assert re.search(rf"^(async )?def {name}\(", source.read_text(), re.MULTILINE), (
            f"{path}::{name}"
        )


def test_the_threat_model_and_reporting_are_there() -> None:
    doc = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    for heading in ("## Threat model", "## Defences and their tests", "## Reporting"):
        assert heading in doc
