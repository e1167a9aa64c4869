"""The generator reproduces the committed catalog byte for byte."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from zdrgate.catalog.load import packaged_catalog_bytes

REPO = Path(__file__).resolve().parents[2]
# ../shared beside the clone; a worktree under wt/ has it one level further up.
DATA = next(
    (d for d in (REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data")
     if d.is_dir()),
    REPO.parent / "shared" / "data",
)


def load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "build_catalog", REPO / "scripts" / "build_catalog.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_generator_is_deterministic_and_committed() -> None:
    # CI has ../shared beside the clone; only a developer checkout may lack it.
    if not DATA.is_dir() and not os.environ.get("CI"):
        pytest.skip("../shared/data not present")
    script = load_script()
    first = script.build(DATA)
    assert first == script.build(DATA)
    assert first.encode("utf-8") == packaged_catalog_bytes(), "re-run scripts/build_catalog.py"


def test_near_duplicate_key() -> None:
    key = load_script().near_duplicate_key
    assert key("openai/gpt-4o-2024-11-20") == key("openai/gpt-4o")
    assert key("qwen/qwen3-30b-a3b-instruct-2507") == key("qwen/qwen3-30b-a3b")
    assert key("Mistralai/Mistral-Large-2512") == key("mistralai/mistral-large")
    assert key("openai/gpt-4o-mini") != key("openai/gpt-4o")
