"""Graceful shutdown of `zdrgate serve`: on SIGTERM an open stream finishes within the
grace period and its usage row is written; what outlives the grace period is cut."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fake_openai import FakeOpenAI, start_fake_openai
from test_canary import free_port

MASTER = "shutdown-master-key-0123456789abcdef"


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    fake, server = start_fake_openai()
    yield fake
    server.stop()


def serve(
    tmp_path: Path, upstream: FakeOpenAI, grace: float
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    config = tmp_path / "zdrgate.toml"
    config.write_text(f"""
[server]
port = {port}
shutdown_grace_seconds = {grace}
[storage]
database_url = "sqlite:///{tmp_path}/zdrgate.db"
[providers.fake]
protocol = "openai"
base_url = "{upstream.base_url}"
api_key = "upstream-key"
[providers.fake.policy]
retention_days = 0
trains_on_data = false
evidence = "https://example.invalid/dpa"
verified_on = "{time.strftime("%Y-%m-%d")}"
[[providers.fake.models]]
id = "t/drip"
upstream_id = "drip"
[[providers.fake.models]]
id = "t/slow"
upstream_id = "slow"
""")
    env = {**os.environ, "ZDRGATE_MASTER_KEY": MASTER}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdrgate", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return url, proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start")


def stream_in_background(url: str, model: str) -> tuple[threading.Event, list[bytes]]:
    started = threading.Event()
    received: list[bytes] = []

    def run() -> None:
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {MASTER}"}
        try:
            with httpx.stream(
                "POST", url + "/v1/chat/completions", json=body, headers=headers, timeout=30
            ) as response:
                for chunk in response.iter_bytes():
                    received.append(chunk)
                    if b"data: {" in chunk:
                        started.set()
        except httpx.HTTPError:
            received.append(b"<cut>")
        started.set()

    threading.Thread(target=run, daemon=True).start()
    return started, received


def usage_rows(tmp_path: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(tmp_path / "zdrgate.db") as db:
        return db.execute("select model, status, completion_tokens from usage").fetchall()


def test_sigterm_lets_an_open_stream_finish_and_records_its_usage(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    url, proc = serve(tmp_path, upstream, grace=20)
    started, received = stream_in_background(url, "t/drip")
    assert started.wait(15)
    proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert proc.wait(30) in (0, -signal.SIGTERM)
    body = b"".join(received)
    assert body.rstrip().endswith(b"data: [DONE]")
    assert b"<cut>" not in body
    rows = usage_rows(tmp_path)
    assert [(m, s) for m, s, _ in rows] == [("t/drip", 200)]
    assert rows[0][2] > 0


def test_a_stream_longer_than_the_grace_period_is_cut_and_the_process_exits(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    url, proc = serve(tmp_path, upstream, grace=1)
    started, received = stream_in_background(url, "t/slow")
    assert started.wait(15)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)  # raises if the process outlives the grace period by far
    assert not b"".join(received).rstrip().endswith(b"data: [DONE]")
