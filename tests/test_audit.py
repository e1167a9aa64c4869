"""`zdrgate audit`: clean on a clean deployment; a canary planted in the data
directory, the database and the log is found, in the encodings it was stored in."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from zdrgate.accounts.keys import generate
from zdrgate.accounts.store import Store
from zdrgate.audit import crash
from zdrgate.audit.crash import CORE_PATTERN, CrashOutcome
from zdrgate.audit.probes import ProbeResult
from zdrgate.audit.run import AuditReport, new_canary, run_audit
from zdrgate.cli import main
from zdrgate.config import Settings, parse_settings
from zdrgate.policylog import PolicyLog

EXPECTED = {
    "upstream 400 echoing the prompt": 400,
    "upstream 400 echoing the prompt, stream": 400,
    "upstream 500 echoing the prompt": 502,
    "invalid JSON quoting the prompt": 400,
    "unknown field named after the prompt": 400,
    "unknown model named after the prompt": 404,
}


def settings_for(tmp_path: Path) -> Settings:
    return parse_settings(
        {"storage": {"database_url": f"sqlite:///{tmp_path}/zdrgate.db", "data_dir": str(tmp_path)}}
    )


def audit(tmp_path: Path, canary: str | None = None, logs: list[Path] | None = None) -> AuditReport:
    return asyncio.run(run_audit(settings_for(tmp_path), canary=canary, log_files=logs or [],
                                 crash=False))


def test_a_clean_deployment_passes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["audit", "--json", "--config", str(_config(tmp_path))], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["hits"] == [] and report["problems"] == []
    statuses = {p["name"]: p["status"] for p in report["probes"]}
    assert len(statuses) >= 20
    for name, status in statuses.items():
        assert status == EXPECTED.get(name, 200), (name, status)
    places = {p["place"] for p in report["places"]}
    assert {"data directory", "database", "log output", "temp directory", "core dumps"} <= places
    # The serving process killed mid-stream: its own start-up turned cores off.
    assert statuses["worker crash mid-stream"] == 200
    assert report["crash"]["rlimit_core"] == "0 0" and report["crash"]["core_dumped"] is False
    assert report["not_scanned"] == []
    database = next(p for p in report["places"] if p["place"] == "database")
    assert database["scanned"] != "sqlite: 0 rows"  # usage rows were written
    store = Store(f"sqlite:///{tmp_path}/zdrgate.db")
    assert PolicyLog(store.engine).entries() == []  # the fakes are not logged as policy
    store.close()


def test_planted_canaries_are_found(tmp_path: Path) -> None:
    canary = new_canary()
    token = canary.split("-")[0].encode()
    (tmp_path / "cache.bin").write_bytes(base64.b64encode(b"x" + token + b"y"))
    (tmp_path / "old.gz").write_bytes(gzip.compress(b"prompt=" + token))
    store = Store(f"sqlite:///{tmp_path}/zdrgate.db")
    store.migrate()
    store.add_key(generate(), name=canary, is_admin=False)
    store.close()
    log = tmp_path.parent / f"{tmp_path.name}.log"
    log.write_text("INFO request " + json.dumps({"content": canary}) + "\n")
    report = audit(tmp_path, canary, [log])
    assert not report.ok
    found = {(h["place"], h["encoding"]) for h in report.hits}
    assert ("data directory", "base64") in found
    assert ("data directory", "gzip+raw") in found
    assert ("database", "raw") in found
    assert ("log output", "json-escaped") in found
    assert {h["where"] for h in report.hits if h["place"] == "log output"} == {str(log)}


def _plant_in_data_dir(tmp_path: Path, canary: str) -> list[Path]:
    (tmp_path / "cache.bin").write_bytes(base64.b64encode(b"x" + canary.encode() + b"y"))
    return []


def _plant_in_database(tmp_path: Path, canary: str) -> list[Path]:
    store = Store(f"sqlite:///{tmp_path}/zdrgate.db")
    store.migrate()
    store.add_key(generate(), name=f"note {canary}", is_admin=False)
    store.close()
    return []


def _plant_in_log(tmp_path: Path, canary: str) -> list[Path]:
    log = tmp_path.parent / f"{tmp_path.name}.log"
    log.write_text("WARNING upstream said " + json.dumps(canary) + "\n")
    return [log]


@pytest.mark.parametrize(("place", "plant"), [
    ("data directory", _plant_in_data_dir),
    ("database", _plant_in_database),
    ("log output", _plant_in_log),
])
def test_a_canary_in_any_one_place_fails_the_audit(
    tmp_path: Path, place: str, plant: Callable[[Path, str], list[Path]]
) -> None:
    canary = new_canary()
    logs = plant(tmp_path, canary)
    report = audit(tmp_path, canary, logs)
    assert not report.ok
    # (a SQLite database inside the data directory is found there and in its files too)
    assert place in {h["place"] for h in report.hits}
    assert report.problems == []


def test_the_cli_exits_1_on_a_hit(tmp_path: Path) -> None:
    canary = new_canary()
    (tmp_path / "notes.txt").write_text(f"remember {canary}")
    result = CliRunner().invoke(
        main, ["audit", "--config", str(_config(tmp_path)), "--canary", canary,
               "--no-crash-probe"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert f"HIT data directory: {tmp_path / 'notes.txt'} (raw)" in result.output
    assert "audit: FAILED" in result.output


def _config(tmp_path: Path) -> Path:
    path = tmp_path.parent / f"{tmp_path.name}.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path}/zdrgate.db"\ndata_dir = "{tmp_path}"\n'
    )
    return path


def test_the_crash_probe_sees_a_core_when_one_is_dumped(tmp_path: Path) -> None:
    """The detector on a known positive: a process that leaves core dumps on (a plain
    Python sleeping, not the gateway), aborted the way the probe aborts the gateway."""
    pattern = CORE_PATTERN.read_text().strip()
    if pattern.startswith("|"):
        pytest.skip(f"this kernel pipes cores to a helper ({pattern!r})")

    def allow_cores() -> None:  # an audit earlier in this process lowered the hard limit
        try:
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
        except (ValueError, OSError):  # not root: as high as the hard limit allows
            hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
            resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    started = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             cwd=tmp_path, preexec_fn=allow_cores)  # noqa: PLW1509
    time.sleep(0.5)  # let the interpreter start: the dump is of a running process
    outcome = CrashOutcome(ProbeResult(crash.NAME, 200), tmp_path / "serve.log")
    crash._limits(child.pid, outcome)
    if outcome.facts["rlimit_core"] == "0 0":
        child.kill()
        child.wait()
        pytest.skip("core dumps cannot be turned on for a child here (hard limit 0)")
    crash._abort(child, outcome)
    crash._look_for_cores(tmp_path, started, outcome)
    assert outcome.facts["core_dumped"] is True
    assert any("allows core files" in p for p in outcome.problems)
    assert any("the kernel dumped a core" in p for p in outcome.problems)
    if not pattern.startswith("/"):
        assert any("a core file appeared" in p for p in outcome.problems)


def test_a_probe_that_did_not_take_its_path_fails_the_audit() -> None:
    """A deployment that does not route the audit's models answers 404: an audit that
    probed nothing must not read as clean."""
    report = AuditReport("zdrcanary0-x")
    report.probes.append(ProbeResult("chat openai", 404))
    report.probes.append(ProbeResult("unknown model named after the prompt", 404, expect=404))
    assert not report.ok
    assert report.as_json()["problems"] == [
        "probe 'chat openai' got 404, not 200: it did not take its path"]
