"""Peak memory of the gateway while 4-image 1024x1024 responses pass through it.

A fake OpenAI-protocol image upstream answers every ``/v1/images/generations``
with ``n`` base64 images of ``--image-mb`` incompressible bytes each (a 1024x1024
PNG from gpt-image is 1.5-3 MB). The gateway runs as its own process
(``python -m zdrgate serve``), exactly as an operator runs it. The figure is the
gateway process's VmHWM (peak RSS) from /proc, against its RSS after a warm-up.

    .venv/bin/python bench/images_memory.py                 # 20 sequential requests
    .venv/bin/python bench/images_memory.py --concurrency 4 # 4 at a time

Prints a markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procstat import tree_hwm_bytes, tree_rss_bytes

MASTER = "bench-master-key-0123456789abcdef0123"
CONFIG = """
[storage]
database_url = "sqlite:///{tmp}/zdrgate.db"
[providers.fake-images]
protocol = "openai"
base_url = "http://127.0.0.1:{port}/v1"
api_key = "x"
[providers.fake-images.policy]
retention_days = 0
trains_on_data = false
evidence = "https://example.invalid/bench"
verified_on = "{today}"
[[providers.fake-images.models]]
id = "bench/image"
upstream_id = "gpt-image-1"
output_modalities = ["image"]
image_price = 0.04
"""


def start_upstream(image_bytes: int) -> int:
    """An aiohttp image upstream in a thread; the reply body is rendered per request."""
    b64 = base64.b64encode(os.urandom(image_bytes)).decode()

    async def images(request: web.Request) -> web.Response:
        body = await request.json()
        data = [{"b64_json": b64} for _ in range(int(body.get("n", 1)))]
        usage = {"input_tokens": 20, "output_tokens": 4160, "total_tokens": 4180}
        return web.json_response({"created": int(time.time()), "data": data, "usage": usage})

    ready, holder = threading.Event(), {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/v1/images/generations", images)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        holder["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return int(holder["port"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gateway(upstream_port: int, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = tmp / "zdrgate.toml"
    today = time.strftime("%Y-%m-%d")
    config.write_text(CONFIG.format(tmp=tmp, port=upstream_port, today=today))
    port = free_port()
    env = {**os.environ, "ZDRGATE_MASTER_KEY": MASTER, "TMPDIR": str(tmp)}
    command = [sys.executable, "-m", "zdrgate", "serve", "--config", str(config)]
    log = (tmp / "gateway.log").open("wb")
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=tmp, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("gateway did not start")


async def load(url: str, requests: int, concurrency: int, n: int) -> tuple[list[float], int]:
    body = {"model": "bench/image", "prompt": "a lighthouse at dusk", "n": n, "size": "1024x1024"}
    headers = {"authorization": f"Bearer {MASTER}"}
    latencies: list[float] = []
    size = 0
    queue = list(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal size
        while queue:
            queue.pop()
            began = time.perf_counter()
            response = await client.post(url + "/v1/images/generations", json=body)
            response.raise_for_status()
            size = len(response.content)
            latencies.append(time.perf_counter() - began)

    async with httpx.AsyncClient(headers=headers, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--image-mb", type=float, default=2.5)
    args = parser.parse_args()
    upstream = start_upstream(int(args.image_mb * 1024 * 1024))
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_gateway(upstream, Path(tmp))
        try:
            asyncio.run(load(url, 2, 1, 1))  # warm-up: imports, pools, first DB write
            time.sleep(1.5)
            idle = tree_rss_bytes(process.pid)
            latencies, size = asyncio.run(load(url, args.requests, args.concurrency, args.images))
            peak = tree_hwm_bytes(process.pid)
            after = tree_rss_bytes(process.pid)
        finally:
            process.terminate()
            process.wait(20)
    report(args, idle, peak, after, latencies, size)


def report(
    args: argparse.Namespace, idle: int, peak: int, after: int, lat: list[float], size: int
) -> None:
    mib = 1024 * 1024
    lat.sort()
    figures = {
        "response_mib": round(size / mib, 2),
        "idle_rss_mib": round(idle / mib, 1),
        "peak_rss_mib": round(peak / mib, 1),
        "peak_minus_idle_mib": round((peak - idle) / mib, 1),
        "rss_after_mib": round(after / mib, 1),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
    }
    print(f"\n### Images through the gateway ({time.strftime('%Y-%m-%d')})\n")
    print(
        f"{args.requests} requests, {args.concurrency} at a time, each {args.images} images "
        f"of {args.image_mb} MB (base64 in JSON: {figures['response_mib']} MiB a response)\n"
    )
    print("| idle RSS | peak RSS (VmHWM) | peak - idle | RSS after | p50 latency |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {figures['idle_rss_mib']} MiB | {figures['peak_rss_mib']} MiB | "
        f"{figures['peak_minus_idle_mib']} MiB | {figures['rss_after_mib']} MiB | "
        f"{figures['p50_ms']} ms |"
    )
    print("\n" + json.dumps(figures))


if __name__ == "__main__":
    main()
