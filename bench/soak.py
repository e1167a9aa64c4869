"""Soak test: many concurrent streams, then minutes of mixed load; RSS and errors tracked.

  .venv/bin/python bench/soak.py                  10,000 streams, then 30 minutes
  .venv/bin/python bench/soak.py --minutes 5      a shorter soak
  .venv/bin/python bench/soak.py --quick          ~20 s (the CI suite runs this)

Everything runs on loopback with the benchmark's fake upstream (bench/fake_upstream.py)
and load generator (bench/loadgen.py), placed as bench/run.py places them. Phases:

1. hold: open ``--streams`` slow streams at once (the upstream holds each one), sample
   the gateway's RSS with all of them open, release them;
2. mixed load, in rounds of ``--round-seconds``: plain chat and streams from 16 clients
   each, every round bounded in requests and time; after each round the gateway's RSS
   is sampled and the round's errors counted.

The report (JSON and Markdown in ``--out``) gives RSS per round and the growth from
the first round to the last. The exit status is 1 when any request failed or RSS grew
by more than ``--max-growth-mib`` over the mixed rounds: a leak shows as growth that
does not level off. Every loop is bounded in count and time, and the run stops itself.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import procstat
import run as bench

MIB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="zdrgate soak test (see bench/README.md)")
    p.add_argument("--quick", action="store_true", help="~20 s: 1,000 streams, 2 short rounds")
    p.add_argument("--streams", type=int, help="concurrent slow streams (default 10000)")
    p.add_argument("--minutes", type=float, help="mixed load after the streams (default 30)")
    p.add_argument("--round-seconds", type=float, help="length of one mixed round (default 60)")
    p.add_argument("--max-growth-mib", type=float, default=64.0,
                   help="RSS growth from the first mixed round to the last that fails the run")
    p.add_argument("--workers", type=int, default=1,
                   help="gateway worker processes (serve --workers N); each has its own fd "
                        "limit, so 10,000 streams need 2 where the hard RLIMIT_NOFILE is 20,000")
    p.add_argument("--gateway-core", type=int, default=1,
                   help="core the gateway is pinned to (>= the number of cores: not pinned)")
    p.add_argument("--harness-core", type=int, default=0)
    p.add_argument("--out", type=Path, default=bench.BENCH / "out")
    args = p.parse_args(argv)
    defaults = ({"streams": 1000, "minutes": 0.2, "round_seconds": 6.0} if args.quick
                else {"streams": 10_000, "minutes": 30.0, "round_seconds": 60.0})
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    # What bench/run.py's helpers read.
    args.gateway_cmd = bench.default_gateway_cmd() + (
        f" --workers {args.workers}" if args.workers > 1 else "")
    args.health_url = "http://127.0.0.1:{port}/healthz"
    args.gateway_url = "http://127.0.0.1:{port}/v1/chat/completions"
    args.chunks, args.chunk_delay_ms, args.latency_ms = 8, 1.0, 0.0
    args.slow_seconds, args.slow_timeout, args.slow_model = 600.0, 120.0, "bench/slow"
    args.slow_streams, args.startup_timeout = args.streams, 60.0
    return args


def master_key() -> str:
    """The admin key the gateway is started with (bench/run.py's environment)."""
    return os.environ.get("ZDRGATE_MASTER_KEY") or bench.parse_args([]).api_key


def mixed_plan(url: str, headers: dict[str, str], round_s: float, gw_pid: int) -> dict:
    half = round_s / 2
    scenarios = [
        {"name": f"soak-{kind}", "url": url, "model": "bench/echo", "concurrency": 16,
         "stream": kind == "stream", "headers": headers, "requests": 1_000_000,
         "warmup": 0, "duration": half}
        for kind in ("chat", "stream")
    ]
    return {"cpu_pids": {"gateway": gw_pid}, "scenarios": scenarios}


def mixed_rounds(args: argparse.Namespace, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    rounds = max(2, math.ceil(args.minutes * 60 / args.round_seconds))
    out = []
    for index in range(rounds):
        plan = mixed_plan(ctx["url"], ctx["headers"], args.round_seconds, ctx["gw_pid"])
        results = bench.run_loadgen(plan, ctx["run_dir"], args.harness_core, f"mixed-{index}",
                                    args.round_seconds + 60)
        out.append({
            "round": index,
            "requests_ok": sum(r["requests_ok"] for r in results),
            "errors": sum(r["errors"] for r in results) + (2 - len(results)),
            "error_samples": [s for r in results for s in r.get("error_samples", [])][:5],
            "rss_bytes": procstat.tree_rss_bytes(ctx["gw_pid"]),
        })
        print(f"round {index + 1}/{rounds}: {out[-1]['requests_ok']} ok, "
              f"{out[-1]['errors']} errors, RSS {out[-1]['rss_bytes'] / MIB:.1f} MiB", flush=True)
    return out


def soak(args: argparse.Namespace, run_dir: Path, hard_limit: int) -> dict[str, Any]:
    upstream, up_port = bench.start_upstream(args, run_dir / "upstream.log")
    subs = {"port": str(bench.free_port()), "upstream_port": str(up_port),
            "upstream_url": f"http://127.0.0.1:{up_port}/v1", "tmpdir": str(run_dir),
            "python": bench.PY, "config": str(run_dir / "zdrgate-bench.toml")}
    template = (bench.BENCH / "zdrgate-bench.toml").read_text()
    Path(subs["config"]).write_text(bench.render(template, subs))
    gateway = None
    try:
        gateway, _ = bench.start_gateway(args, subs, run_dir / "gateway.log")
        ctx = {"url": bench.render(args.gateway_url, subs), "gw_pid": gateway.pid,
               "headers": {"Authorization": f"Bearer {master_key()}"},
               "up_port": up_port, "hard_limit": hard_limit, "run_dir": run_dir}
        report: dict[str, Any] = {"idle_rss_bytes": procstat.tree_rss_bytes(gateway.pid)}
        report["hold"] = bench.slow_stream_phase(args, ctx)
        report["rounds"] = mixed_rounds(args, ctx)
        report["vmhwm_bytes"] = procstat.tree_hwm_bytes(gateway.pid)
        report["alive"] = gateway.poll() is None
        return report
    finally:
        bench.stop(gateway)
        bench.stop(upstream)


def verdict(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rounds, hold = report["rounds"], report["hold"]
    first, last = rounds[0]["rss_bytes"], rounds[-1]["rss_bytes"]
    errors = sum(r["errors"] for r in rounds) + hold.get("errors", 1)
    opened = hold.get("opened", 0)
    growth = (last - first) / MIB
    return {
        "errors": errors, "streams_opened": opened, "streams_target": args.streams,
        "requests_ok": sum(r["requests_ok"] for r in rounds),
        "rss_growth_mib": growth, "rss_max_mib": max(r["rss_bytes"] for r in rounds) / MIB,
        "ok": errors == 0 and opened == hold.get("target_streams") and report["alive"]
        and growth <= args.max_growth_mib,
    }


def markdown(report: dict[str, Any]) -> str:
    m, v, hold = report["machine"], report["verdict"], report["hold"]
    lines = [
        f"Soak on {m['date']}, {m['nproc']} cores ({m['cpu_model']}), commit {m['commit']}, "
        f"gateway with {report['config']['workers']} worker process(es) (RSS summed over "
        "the process tree).",
        "",
        f"- {hold.get('opened')} of {hold.get('target_streams')} concurrent streams opened "
        f"({hold.get('errors')} errors); RSS with all open "
        f"{(hold.get('rss_bytes') or 0) / MIB:.0f} MiB (idle {report['idle_rss_bytes'] / MIB:.0f}"
        " MiB)",
        f"- mixed load: {len(report['rounds'])} rounds of {report['config']['round_seconds']} s,"
        f" {v['requests_ok']} requests, {v['errors']} errors in all",
        "- RSS after each round (MiB): "
        + ", ".join(f"{r['rss_bytes'] / MIB:.0f}" for r in report["rounds"]),
        f"- growth from the first round to the last: {v['rss_growth_mib']:+.1f} MiB "
        f"(fails above {report['config']['max_growth_mib']} MiB): "
        f"{'pass' if v['ok'] else 'FAIL'}",
    ]
    return "\n".join(lines) + "\n"


def raise_nofile(wanted: int = 65536) -> int:
    """10,000 streams take ~20,000 sockets in the gateway: lift the fd limit past the
    usual 20,000 hard limit where allowed (root), else to the hard limit."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    return bench.raise_nofile()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hard_limit = raise_nofile()
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {args.harness_core})
    run_dir = Path(tempfile.mkdtemp(prefix="zdrgate-soak-"))
    started = time.perf_counter()
    report = soak(args, run_dir, hard_limit)
    report["machine"] = bench.machine_info()
    report["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    report["verdict"] = verdict(report, args)
    report["elapsed_s"] = time.perf_counter() - started
    report["markdown"] = markdown(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.out / f"soak-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(report, indent=1))
    print("\n" + report["markdown"] + f"wrote {path} (logs in {run_dir})")
    return 0 if report["verdict"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
