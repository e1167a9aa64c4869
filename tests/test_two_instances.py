"""Two `zdrgate serve` processes on loopback sharing this machine's PostgreSQL and Redis,
as the scaled mode runs: limits hold across both, a revocation through one is refused by
the other, an endpoint one saw failing is tried last by the other, and `kill -9` of one
mid-stream loses no usage row of requests it completed while the other keeps serving.

Under CI=true these run (PostgreSQL and Redis are started before CI), never skip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from fake_openai import FakeOpenAI, start_fake_openai
from test_canary import free_port

pytestmark = pytest.mark.services
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
MASTER = "two-instances-master-key-0123456789abcdef"
CANARY = "CANARY-two-instances-41c7"


@dataclass
class Cluster:
    config: Path
    urls: list[str]
    procs: list[subprocess.Popen[bytes]]
    upstream: FakeOpenAI
    pg_url: str
    prefix: str

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "zdrgate", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env={**os.environ, "ZDRGATE_MASTER_KEY": MASTER},
            check=True,
        )
        return result.stdout.strip()


def _services() -> None:
    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=3).close()
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=3).ping()
    except (psycopg.OperationalError, redis.ConnectionError):
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL or Redis is not running on 127.0.0.1")


def _config(path: Path, upstream: FakeOpenAI, pg_url: str, prefix: str) -> None:
    day = time.strftime("%Y-%m-%d")
    policy = f"""retention_days = 0
trains_on_data = false
evidence = "https://example.invalid/dpa"
verified_on = "{day}"
"""
    path.write_text(f"""
[storage]
database_url = "{pg_url}"
redis_url = "redis://127.0.0.1:6379/0"
redis_key_prefix = "{prefix}"
data_dir = "{path.parent}"
usage_flush_seconds = 0
[upstream]
failure_cooldown_seconds = 60
[providers.first]
protocol = "openai"
base_url = "{upstream.base_url}"
api_key = "first-key"
[providers.first.policy]
{policy}
[[providers.first.models]]
id = "t/chat"
upstream_id = "fail500"
prompt_price = 0.1
completion_price = 0.1
[[providers.first.models]]
id = "t/stream"
upstream_id = "slow"
[[providers.first.models]]
id = "t/drip"
upstream_id = "drip"
[providers.second]
protocol = "openai"
base_url = "{upstream.base_url}"
api_key = "second-key"
[providers.second.policy]
{policy}
[[providers.second.models]]
id = "t/chat"
upstream_id = "ok"
prompt_price = 1.0
completion_price = 1.0
""")


def _serve(config: Path, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    with log.open("ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zdrgate",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
            ],
            cwd=config.parent,
            env={**os.environ, "ZDRGATE_MASTER_KEY": MASTER},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return url, proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gateway did not start: " + log.read_text()[-2000:])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    _services()
    schema = f"zdrgate_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    admin.execute(f"create schema {schema}")
    pg_url = f"{ADMIN_DSN}?options=-csearch_path%3D{schema}"
    prefix = f"zdrgate-test-{uuid.uuid4().hex[:10]}:"
    upstream, server = start_fake_openai()
    config = tmp_path / "zdrgate.toml"
    _config(config, upstream, pg_url, prefix)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for name in ("a", "b"):
            url, proc = _serve(config, tmp_path / f"{name}.log")
            urls.append(url)
            procs.append(proc)
        yield Cluster(config, urls, procs, upstream, pg_url, prefix)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
        server.stop()
        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        admin.execute(f"drop schema {schema} cascade")
        admin.close()


def chat(url: str, key: str, model: str = "t/chat", **extra: object) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": CANARY}], **extra}
    return httpx.post(
        url + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=20,
    )


def test_a_rate_limit_holds_across_both_instances(cluster: Cluster) -> None:
    key = cluster.cli("keys", "create", "--name", "shared", "--rpm", "3").split()[-1]
    a, b = cluster.urls
    statuses = [chat(url, key).status_code for url in (a, b, a)]
    assert statuses == [200, 200, 200]
    refused = chat(b, key)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"


def test_a_key_revoked_through_one_is_refused_by_the_other(cluster: Cluster) -> None:
    key = cluster.cli("keys", "create", "--name", "to-revoke").split()[-1]
    key_id = key.split("-")[1]
    a, b = cluster.urls
    assert chat(a, key).status_code == 200
    assert chat(b, key).status_code == 200  # both instances have it cached now
    revoked = httpx.post(
        f"{a}/v1/admin/keys/{key_id}/revoke", headers={"Authorization": f"Bearer {MASTER}"}
    )
    assert revoked.status_code == 200, revoked.text
    time.sleep(0.1)  # the bound: refused on every instance within 100 ms
    refused = chat(b, key)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_an_endpoint_failing_on_one_is_tried_last_by_the_other(cluster: Cluster) -> None:
    a, b = cluster.urls
    # The cheapest first, unless it failed recently (an explicit `order` would win).
    ordered = {"provider": {"sort": "price"}}
    assert chat(a, MASTER, **ordered).status_code == 200  # first fails, second serves
    failed_before = cluster.upstream.count("fail500")
    assert failed_before >= 1
    time.sleep(0.2)  # the failure travels over Redis pub/sub
    served = chat(b, MASTER, **ordered)
    assert served.status_code == 200
    assert served.headers["x-zdr-endpoint"] == "second/ok"
    assert cluster.upstream.count("fail500") == failed_before  # b never tried it


def test_kill_9_mid_stream_loses_no_completed_row_and_the_other_serves(
    cluster: Cluster,
) -> None:
    """Under load (plain requests and streams on several connections), `kill -9` of a:
    every request whose client received the whole response (a plain body, a stream's
    `[DONE]`) has its row, because a response's last bytes wait for its row
    (`usage_flush_seconds = 0`). Read at once: a is dead, no row can still come."""
    a, b = cluster.urls
    key = cluster.cli("keys", "create", "--name", "load").split()[-1]
    load = Load(a, key)
    threads = [threading.Thread(target=load.plain, daemon=True) for _ in range(3)]
    threads += [threading.Thread(target=load.stream, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not load.ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert load.ready()  # some served whole, and a stream in the middle of its chunks
    cluster.procs[0].send_signal(signal.SIGKILL)
    cluster.procs[0].wait(10)
    load.stop.set()
    for thread in threads:
        thread.join(25)
    completed = load.count()
    with psycopg.connect(cluster.pg_url) as db:
        row = db.execute("select count(*) from usage where key_id = %s", (key.split("-")[1],))
        stored = int(row.fetchone()[0])  # type: ignore[index]
    assert stored >= completed, f"{completed} responses completed, {stored} rows"
    assert stored <= load.sent
    assert chat(b, MASTER, provider={"order": ["second"]}).status_code == 200


class Load:
    """Clients of one instance that count the responses they received whole."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}"}
        self.stop = threading.Event()
        self.midway = 0  # streams that sent a chunk and not yet their end
        self.lock = threading.Lock()
        self.sent = self.plain_completed = self.streams_completed = 0

    def ready(self) -> bool:
        with self.lock:
            return self.streams_completed >= 1 and self.plain_completed >= 10 and self.midway > 0

    def count(self) -> int:
        with self.lock:
            return self.plain_completed + self.streams_completed

    def _sending(self) -> bool:
        with self.lock:
            self.sent += 1
        return not self.stop.is_set()

    def plain(self) -> None:
        body = {"model": "t/chat", "messages": [{"role": "user", "content": CANARY}]}
        body["provider"] = {"order": ["second"]}  # type: ignore[assignment]
        with httpx.Client(headers=self.headers, timeout=20) as client:
            while self._sending():
                try:
                    reply = client.post(self.url + "/v1/chat/completions", json=body)
                    whole = reply.status_code == 200 and bool(reply.json()["choices"])
                except (httpx.HTTPError, ValueError):
                    return
                with self.lock:
                    self.plain_completed += whole

    def stream(self) -> None:
        body = {
            "model": "t/drip",
            "stream": True,
            "messages": [{"role": "user", "content": CANARY}],
        }
        with httpx.Client(headers=self.headers, timeout=20) as client:
            while self._sending():
                seen, counted = b"", False
                try:
                    with client.stream("POST", self.url + "/v1/chat/completions", json=body) as r:
                        for chunk in r.iter_bytes():
                            seen += chunk
                            if not counted and b"data: {" in seen:
                                counted = True
                                with self.lock:
                                    self.midway += 1
                except httpx.HTTPError:
                    return
                with self.lock:
                    self.midway -= counted
                    self.streams_completed += seen.endswith(b"data: [DONE]\n\n")


def test_redis_holds_counters_and_ids_only(cluster: Cluster) -> None:
    key = cluster.cli("keys", "create", "--name", "scan", "--rpm", "100").split()[-1]
    for url in cluster.urls:
        assert chat(url, key, stream=False).status_code == 200
    client = redis.Redis(host="127.0.0.1", port=6379)
    keys = list(client.scan_iter(match=f"{cluster.prefix}*"))
    assert keys  # the limits are there
    for name in keys:
        dumped = client.dump(name) or b""
        assert CANARY.encode() not in name + dumped
        assert b"echo" not in dumped
