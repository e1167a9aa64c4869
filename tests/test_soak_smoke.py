"""The short soak (bench/soak.py --quick, ~20 s): 1,000 concurrent streams, then two
rounds of mixed load on loopback. Zero errors, every stream opened, the gateway still
alive, and RSS bounded: growth over the mixed rounds under the script's limit, and
the peak with all streams open far from what an unbounded buffer would take.
Figures in bytes and counts; the run's duration is not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def test_short_soak_has_no_errors_and_bounded_rss(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--quick", "--out", str(tmp_path)],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    [report] = [json.loads(p.read_text()) for p in tmp_path.glob("soak-*.json")]
    verdict = report["verdict"]
    assert verdict["errors"] == 0, report["rounds"]
    assert verdict["streams_opened"] == verdict["streams_target"] == 1000
    assert report["alive"]
    assert verdict["rss_growth_mib"] <= report["config"]["max_growth_mib"]
    assert report["hold"]["rss_bytes"] < 1024 * MIB
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
