"""Privacy by construction, checked from outside: run `zdrgate serve` as a process,
send prompts carrying unique canary strings down every path (success, streaming,
upstream 4xx that echoes the prompt, upstream 5xx, broken stream, client disconnect,
invalid request), stop it, then scan every file it could have written."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fake_openai import FakeOpenAI, start_fake_openai

MASTER = "canary-master-key-0123456789abcdef0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(path: Path, upstream: FakeOpenAI, port: int) -> None:
    models = "\n".join(
        f'[[providers.fake.models]]\nid = "canary/{mode}"\nupstream_id = "{mode}"\n'
        for mode in ("ok", "bad400", "fail500", "break", "slow")
    )
    path.write_text(f"""
[server]
port = {port}
[storage]
database_url = "sqlite:///{path.parent}/data/zdrgate.db"
[providers.fake]
protocol = "openai"
base_url = "{upstream.base_url}"
api_key = "upstream-key"
[providers.fake.policy]
retention_days = 0
trains_on_data = false
evidence = "https://example.invalid/dpa"
verified_on = "{time.strftime("%Y-%m-%d")}"
{models}
""")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, FakeOpenAI, subprocess.Popen[bytes]]]:
    upstream, server = start_fake_openai()
    port = free_port()
    (tmp_path / "data").mkdir()
    (tmp_path / "tmp").mkdir()
    config = tmp_path / "zdrgate.toml"
    write_config(config, upstream, port)
    env = {
        **os.environ,
        "ZDRGATE_MASTER_KEY": MASTER,
        "TMPDIR": str(tmp_path / "tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdrgate", "serve", "--config", str(config)],
        cwd=tmp_path / "data",
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError((tmp_path / "gateway.log").read_text())
        time.sleep(0.05)
    yield url, tmp_path, upstream, proc
    if proc.poll() is None:
        proc.kill()
    log.close()
    server.stop()


def exercise(url: str, canary: str) -> None:
    headers = {"Authorization": f"Bearer {MASTER}"}

    def chat(model: str, stream: bool = False) -> dict[str, object]:
        text = f"my secret is {canary}-{model}-{stream}"
        return {
            "model": f"canary/{model}",
            "stream": stream,
            "messages": [{"role": "system", "content": text}, {"role": "user", "content": text}],
        }

    def responses(model: str, stream: bool = False) -> dict[str, object]:
        text = f"my secret is {canary}-{model}-{stream}"
        part = {"type": "input_text", "text": text}
        return {
            "model": f"canary/{model}",
            "stream": stream,
            "instructions": text,
            "input": [{"role": "user", "content": [part]}],
            "metadata": {"note": canary},
            "user": canary,
        }

    with httpx.Client(headers=headers, timeout=10) as client:
        for model in ("ok", "bad400", "fail500", "break"):
            for stream in (False, True):
                client.post(url + "/v1/chat/completions", json=chat(model, stream))
                client.post(url + "/v1/responses", json=responses(model, stream))
        hosted = [{"type": "web_search", "filters": {"allowed_domains": [canary]}}]
        client.post(url + "/v1/responses", json={**responses("ok"), "tools": hosted})
        client.post(url + "/v1/responses", json={**responses("ok"), "previous_response_id": canary})
        with client.stream(
            "POST", url + "/v1/chat/completions", json=chat("slow", True)
        ) as response:
            next(response.iter_bytes())  # first chunk arrived; now hang up
        client.post(
            url + "/v1/chat/completions",
            content=b'{"model": "canary/ok", "messages": [' + canary.encode() + b"]",
        )
        client.post(url + "/v1/chat/completions", json={**chat("ok"), "temperature": canary})


def exercise_account(url: str, canary: str, export_file: Path) -> None:
    """An account's key sends the canary; its GDPR export is saved where the scan looks
    (the admin audit log and the usage rows are in the database, scanned too)."""
    with httpx.Client(headers={"Authorization": f"Bearer {MASTER}"}, timeout=10) as client:
        client.post(url + "/v1/admin/accounts", json={"email": "canary@example.org"})
        made = client.post(url + "/v1/admin/keys", json={"account": "canary@example.org"})
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        body = {"model": "canary/ok", "messages": [{"role": "user", "content": canary}]}
        assert client.post(url + "/v1/chat/completions", json=body, headers=key).status_code == 200
        time.sleep(1.5)  # the usage batch is written, so the export holds its row
        export = client.get(url + "/v1/account/export", headers=key)
    assert export.json()["usage"], "the export holds the account's usage"
    export_file.write_bytes(export.content)


def test_no_canary_in_any_file_the_gateway_wrote(served: tuple) -> None:
    url, root, upstream, proc = served
    canary = f"CANARY{uuid.uuid4().hex}"
    exercise(url, canary)
    exercise_account(url, canary, root / "data" / "export.json")
    assert upstream.count("ok") >= 4 and upstream.count("bad400") == 4
    deadline = time.monotonic() + 5
    while upstream.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.disconnects >= 1, "client disconnect did not cancel the upstream request"
    time.sleep(1.5)  # let the usage batch be written
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    files = [p for p in root.rglob("*") if p.is_file()]
    with sqlite3.connect(root / "data" / "zdrgate.db") as db:  # it did write: metadata only
        models = {row[0] for row in db.execute("select model from usage")}
    assert {"canary/ok", "canary/bad400", "canary/fail500"} <= models
    needles = [canary.encode(), canary.encode("utf-16-le")]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"canary found in {path.relative_to(root)}"
