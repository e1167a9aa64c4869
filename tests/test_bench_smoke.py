"""The benchmark still works (a short run; its figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_without_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--slow-streams", "0", "--out", str(tmp_path)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [report] = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    runs = report["gateway"]["runs"]
    assert {(r["stream"], r["concurrency"]) for r in runs} == {(False, 16), (True, 16)}
    for run in runs:
        assert run["errors"] == 0 and run["requests_ok"] > 0
        assert all(v > 0 for v in run["cpu_ms_per_request"].values())
    assert "| 16 |" in report["markdown"]


def test_instruction_counter_and_floor_proxy_load() -> None:
    for script in ("bench/instructions.py", "bench/floor_proxy.py"):
        done = subprocess.run(
            [sys.executable, script, "--help"], cwd=REPO, capture_output=True, text=True,
            check=False, timeout=60,
        )
        assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]
