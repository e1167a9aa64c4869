"""`zdrgate serve --workers 2` on the embedded defaults (one SQLite file, no Redis): both
worker processes serve, and what they must agree on is shared between them: the first
admin key (the key file the parent wrote), revocations (the credential epoch file), the
receipt signing key (a receipt signed by one verifies on the other) and the usage
database.

Which worker served a request is read from the operating system, not from the
gateway: each test connection's server-side socket (``/proc/net/tcp``) belongs to one
worker process (``/proc/PID/fd``)."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fake_openai import start_fake_openai
from test_canary import free_port, write_config

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
CHAT = {"model": "canary/ok", "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Served:
    port: int
    proc: subprocess.Popen[bytes]
    admin: str
    db: Path


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[Served]:
    upstream, server = start_fake_openai()
    port = free_port()
    config = tmp_path / "zdrgate.toml"
    (tmp_path / "data").mkdir()
    write_config(config, upstream, port)
    text = config.read_text().replace(
        "[storage]\n", f'[storage]\ndata_dir = "{tmp_path}/data"\nusage_flush_seconds = 0\n'
    )
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in ("ZDRGATE_CONFIG", "ZDRGATE_MASTER_KEY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zdrgate", "serve", "--config", str(config), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        key_file = tmp_path / "data" / "first-admin-key"
        deadline = time.monotonic() + 90  # two processes import and load the catalog
        while time.monotonic() < deadline and len(workers(proc.pid)) < 2:
            time.sleep(0.2)
        admin = key_file.read_text().strip()
        while time.monotonic() < deadline:
            probe = Connection(port)
            try:
                if request(probe, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
            finally:
                probe.close()
        yield Served(port, proc, admin, tmp_path / "data" / "zdrgate.db")
    finally:
        proc.terminate()
        proc.wait(30)
        server.stop()


class Connection(http.client.HTTPConnection):
    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port, timeout=20)


def request(
    conn: Connection, method: str, path: str, key: str = "", body: object = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def workers(parent: int) -> set[int]:
    """The serve process's children that are uvicorn workers (not helpers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            found.add(int(entry.name))
    return found


def serving_pid(conn: Connection, port: int, candidates: set[int]) -> int:
    """The worker holding the server side of this (kept-alive) connection."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    inode = ""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode, "the connection's server side was not found"
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no worker holds the connection")


def one_connection_per_worker(served: Served) -> dict[int, Connection]:
    pids = workers(served.proc.pid)
    assert len(pids) == 2
    by_worker: dict[int, Connection] = {}
    for _ in range(200):  # the kernel hands each new connection to one waiting worker
        conn = Connection(served.port)
        status, _, _ = request(conn, "POST", "/v1/chat/completions", served.admin, CHAT)
        assert status == 200
        pid = serving_pid(conn, served.port, pids)
        if pid in by_worker:
            conn.close()
        else:
            by_worker[pid] = conn
        if len(by_worker) == 2:
            return by_worker
    raise AssertionError("one worker served every connection")


def test_both_workers_serve_and_share_keys_revocations_receipts_and_usage(
    two_workers: Served,
) -> None:
    connections = one_connection_per_worker(two_workers)
    try:
        shared_state_across(*connections.values(), two_workers)
    finally:
        for conn in connections.values():
            conn.close()


def shared_state_across(first: Connection, second: Connection, two_workers: Served) -> None:
    admin = two_workers.admin  # the parent's first admin key works on both workers
    status, _, made = request(first, "POST", "/v1/admin/keys", admin, {"name": "w"})
    assert status == 201, made
    key, key_id = json.loads(made)["key"], json.loads(made)["id"]
    for conn in (first, second):  # each worker now has the key cached
        assert request(conn, "POST", "/v1/chat/completions", key, CHAT)[0] == 200
    status, headers, _ = request(first, "POST", "/v1/chat/completions", key, CHAT)
    receipt = headers["zdr-receipt"]
    status, _, checked = request(second, "POST", "/v1/receipts/verify", "", {"receipt": receipt})
    assert status == 200 and json.loads(checked)["valid"] is True  # one signing key
    assert request(second, "POST", f"/v1/admin/keys/{key_id}/revoke", admin)[0] == 200
    status, _, refused = request(first, "POST", "/v1/chat/completions", key, CHAT)
    assert status == 401 and json.loads(refused)["error"]["code"] == "invalid_api_key"
    with sqlite3.connect(two_workers.db) as db:  # rows are written before responses
        (rows,) = db.execute("select count(*) from usage where key_id = ?", (key_id,)).fetchone()
    assert rows == 3


def test_many_requests_over_many_connections_all_succeed(two_workers: Served) -> None:
    pids = workers(two_workers.proc.pid)
    served_by: dict[int, int] = {}
    for _ in range(40):
        conn = Connection(two_workers.port)
        for _ in range(5):
            status, _, _ = request(conn, "POST", "/v1/chat/completions", two_workers.admin, CHAT)
            assert status == 200
        pid = serving_pid(conn, two_workers.port, pids)
        served_by[pid] = served_by.get(pid, 0) + 1
        conn.close()
    assert sum(served_by.values()) == 40 and set(served_by) <= pids
