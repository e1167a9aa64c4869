"""`zdrgate audit --target URL --key K` against a running `zdrgate serve` on loopback
that routes the audit's models to `zdrgate audit-fakes`: clean passes; a canary
planted in its data directory or its log fails it; places it could not scan are named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from test_canary import free_port
from zdrgate.audit.run import new_canary

MASTER = "audit-target-master-key-0123456789abcdef"
EXPECTED = {
    "upstream 400 echoing the prompt": 400,
    "upstream 400 echoing the prompt, stream": 400,
    "upstream 500 echoing the prompt": 502,
    "invalid JSON quoting the prompt": 400,
    "unknown field named after the prompt": 400,
    "unknown model named after the prompt": 404,
}


@dataclass
class Deployment:
    url: str
    config: Path
    data: Path
    log: Path


def zdrgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "zdrgate", *args]


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    fakes_out = tmp_path / "fakes.toml"
    with fakes_out.open("wb") as out:
        fakes = subprocess.Popen(zdrgate("audit-fakes"), stdout=out, stderr=subprocess.PIPE)
    serve = None
    try:
        assert fakes.stderr is not None
        assert fakes.stderr.readline().strip() == b"# ready"
        data = tmp_path / "data"
        data.mkdir()
        config = tmp_path / "zdrgate.toml"
        config.write_text(f'[storage]\ndatabase_url = "sqlite:///{data}/z.db"\n'
                          f'data_dir = "{data}"\n\n' + fakes_out.read_text())
        port, log = free_port(), tmp_path / "serve.log"
        with log.open("wb") as out:
            serve = subprocess.Popen(
                zdrgate("serve", "--config", str(config), "--port", str(port)),
                stdout=out, stderr=out, env={**os.environ, "ZDRGATE_MASTER_KEY": MASTER})
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, serve)
        yield Deployment(url, config, data, log)
    finally:
        for proc in (serve, fakes):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        assert fakes.stderr is not None
        fakes.stderr.close()


def _wait_healthy(url: str, serve: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # start-up on a loaded machine, not a timing claim
    while time.monotonic() < deadline:
        assert serve.poll() is None, "zdrgate serve exited"
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("zdrgate serve did not become healthy")


def audit(dep: Deployment, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        zdrgate("audit", "--target", dep.url, "--key", MASTER, "--config", str(dep.config),
                "--log-file", str(dep.log), *extra),
        capture_output=True, text=True, timeout=600, check=False)


def test_target_audit_clean_then_planted(deployment: Deployment) -> None:
    run = audit(deployment, "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] and report["hits"] == [] and report["problems"] == []
    statuses = {p["name"]: p["status"] for p in report["probes"]}
    assert {"web chat stream (session)", "client disconnects mid-stream",
            "messages stream", "images", "embeddings"} <= set(statuses)
    for name, status in statuses.items():
        assert status == EXPECTED.get(name, 200), (name, status)
    places = {p["place"] for p in report["places"]}
    assert {"API answers", "data directory", "database", "log output"} <= places
    missing = " | ".join(report["not_scanned"])
    assert "worker crash" in missing and "redis" in missing and "core dumps" in missing

    canary = new_canary()
    (deployment.data / "leak.json").write_text(json.dumps({"prompt": canary}))
    planted = audit(deployment, "--canary", canary)
    assert planted.returncode == 1
    assert f"HIT data directory: {deployment.data / 'leak.json'} (json-escaped)" in planted.stdout
    (deployment.data / "leak.json").unlink()

    with deployment.log.open("a") as log:
        log.write(f"ERROR upstream said {canary}\n")
    logged = audit(deployment, "--canary", canary)
    assert logged.returncode == 1
    assert f"HIT log output: {deployment.log} (raw)" in logged.stdout
