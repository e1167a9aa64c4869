"""The serving process keeps its memory to itself: no core file, not dumpable (issue 11,
item 15). Checked on a real ``zdrgate serve`` process through /proc."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, start_fake_openai
from test_shutdown import serve

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    fake, server = start_fake_openai()
    yield fake
    server.stop()


def core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit in /proc")


def test_serve_runs_with_core_dumps_disabled(tmp_path: Path, upstream: FakeOpenAI) -> None:
    _, proc = serve(tmp_path, upstream, grace=1.0)
    try:
        assert core_limit(proc.pid) == "0 0"  # soft and hard: it cannot raise it again
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_serving_process_is_not_dumpable() -> None:
    code = (
        "from zdrgate.process import core_dump_state, disable_core_dumps\n"
        "assert not core_dump_state()['off']\n"
        "disable_core_dumps()\n"
        "print(core_dump_state()['dumpable'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
