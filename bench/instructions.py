"""Instructions per request, counted by valgrind's callgrind: a figure this noisy VM
cannot move.

CPU time per request varies 10-30 % between runs here; instruction counts of the
same code and workload repeat to within ~0.5 % (non-streaming) and ~4 % (streams,
whose batching of events into reads depends on timing). So A/B comparisons of a change, and
the split "floor vs zdrgate" in bench/RESULTS.md, use this. It runs each gateway
under callgrind (about 50x slower, so fewer requests), warms it up, zeroes the
counters, sends the measured requests through the same fake upstream and load
generator as bench/run.py, and dumps the counters. Kernel time (system calls) is not
counted: it is the same for every gateway that makes the same calls.

  python bench/instructions.py                 # zdrgate and the http1 floor proxy
  python bench/instructions.py --target zdrgate --requests 500 --streams 200
  PYTHONPATH=/path/to/other/checkout/src python bench/instructions.py --target zdrgate

Needs `valgrind` (Debian package) and takes ~1 minute per target and scenario.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run  # bench/run.py: process helpers, the fake upstream, the gateway config

TARGETS = {
    "zdrgate": "{python} -m zdrgate " + run.SERVE_ARGS,
    "floor-http1": "{python} bench/floor_proxy.py --port {port} --upstream {upstream_url}"
                   " --client http1",
}


def loadgen(url: str, model: str, n: int, stream: bool, concurrency: int) -> None:
    cmd = [run.PY, str(run.BENCH / "loadgen.py"), "--url", url, "--model", model,
           "--api-key", "bench-master-key-0123456789abcdef0123",
           "-c", str(concurrency), "-n", str(n), "--warmup", "0", *(["--stream"] if stream else [])]
    subprocess.run(run.pinned(cmd, 0), check=True, capture_output=True, cwd=run.REPO,
                   timeout=900)


def measure(target: str, stream: bool, n: int, args: argparse.Namespace, tmp: Path) -> float:
    """Instructions per request of ``target`` for ``n`` requests (or streams)."""
    args.chunk_delay_ms, args.chunks, args.latency_ms, args.slow_seconds = 1.0, 8, 0.0, 120.0
    args.harness_core = 0
    up, up_port = run.start_upstream(args, tmp / "upstream.log")
    port = run.free_port()
    subs = {"port": str(port), "upstream_port": str(up_port), "tmpdir": str(tmp),
            "upstream_url": f"http://127.0.0.1:{up_port}/v1", "python": run.PY}
    config = tmp / "zdrgate.toml"
    config.write_text(run.render((run.BENCH / "zdrgate-bench.toml").read_text(), subs))
    subs["config"] = str(config)
    out = tmp / f"callgrind.{target}.{'stream' if stream else 'chat'}"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
           *shlex.split(run.render(TARGETS[target], subs))]
    gw = run.spawn(cmd, 1, env=run.gateway_env(subs), stdout=subprocess.DEVNULL,
                   log=tmp / f"{target}.log")
    try:
        deadline = time.monotonic() + 300
        while run.http_status(f"http://127.0.0.1:{port}/healthz") != 200:
            if time.monotonic() > deadline or gw.poll() is not None:
                raise SystemExit(f"{target} did not start under valgrind; see {tmp}")
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        loadgen(url, "bench/echo", args.warmup, stream, args.concurrency)
        time.sleep(1.5)  # the usage writer flushes the warm-up's rows
        subprocess.run(["callgrind_control", "-z", str(gw.pid)], check=True, capture_output=True)
        loadgen(url, "bench/echo", n, stream, args.concurrency)
        time.sleep(1.5)  # ... and the measured ones, which are counted
        subprocess.run(["callgrind_control", "-d", str(gw.pid)], check=True, capture_output=True)
        time.sleep(0.5)
        dump = Path(f"{out}.{gw.pid}.1")
        total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                     if line.startswith("summary:"))
        return total / n
    finally:
        run.stop(gw)
        run.stop(up)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=sorted(TARGETS),
                   help="repeatable; default: all")
    p.add_argument("--requests", type=int, default=500, help="non-streaming requests")
    p.add_argument("--streams", type=int, default=200, help="8-chunk streams")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="zdrgate-instr-") as name:
        for target in args.target or list(TARGETS):
            results[target] = {
                "chat": measure(target, False, args.requests, args, Path(name)),
                "stream": measure(target, True, args.streams, args, Path(name)),
            }
            print(f"{target}: {json.dumps(results[target])}", file=sys.stderr)
    print(f"| target | instructions per request | per 8-chunk stream "
          f"({args.concurrency} clients) |\n|---|---:|---:|")
    for target, r in results.items():
        print(f"| {target} | {r['chat']:,.0f} | {r['stream']:,.0f} |")


if __name__ == "__main__":
    main()
