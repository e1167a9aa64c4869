"""Benchmark runner: fake upstream + gateway under test + load generator, one command.

  .venv/bin/python bench/run.py              full run (< 10 minutes)
  .venv/bin/python bench/run.py --quick      ~10-second smoke run
  .venv/bin/python bench/run.py --gateway-cmd "..." --gateway-label other ...

Placement on a 2-core machine: the gateway gets core 1 to itself; the fake
upstream and the load generator share core 0 (both are raw-protocol and cost a
few tens of microseconds per request, see the direct-mode figures). Direct mode
(load generator straight to the upstream) uses the same placement, so "added
latency" compares like with like. CPU is read from /proc for the gateway's
process tree only, around each measured window. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import procstat

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PY = sys.executable
SERVE_ARGS = "serve --config {config} --host 127.0.0.1 --port {port}"


def default_gateway_cmd() -> str:
    """The installed ``zdrgate`` script next to this Python, else ``python -m zdrgate``."""
    script = Path(PY).parent / "zdrgate"
    return f"{script} {SERVE_ARGS}" if script.exists() else f"{{python}} -m zdrgate {SERVE_ARGS}"


# --- processes --------------------------------------------------------------------------------


def pinned(cmd: list[str], core: int | None) -> list[str]:
    """Prefix ``taskset`` so the child and everything it forks stay on ``core``.

    (A preexec_fn would do the same but is unsafe while the RSS sampler thread runs.)
    """
    if core is None or not 0 <= core < (os.cpu_count() or 1) or not shutil.which("taskset"):
        return cmd
    return ["taskset", "-c", str(core), *cmd]


def spawn(cmd: list[str], core: int | None, env: dict[str, str] | None = None,
          stdout: Any = subprocess.PIPE, log: Path | None = None) -> subprocess.Popen:
    """Start a child in its own session so it (and its children) can be stopped as a group."""
    stderr = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - child owns it
    proc = subprocess.Popen(pinned(cmd, core), stdout=stdout, stderr=stderr, env=env,
                            cwd=REPO, start_new_session=True)
    if core is not None and 0 <= core < (os.cpu_count() or 1):
        # Belt and braces when taskset is missing: pin at least the direct child.
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, {core})
    return proc


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM the child's process group (only what this runner started), then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def read_line(proc: subprocess.Popen, timeout: float) -> str | None:
    """One stdout line from a child, or None on timeout / exit."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    line = proc.stdout.readline()  # type: ignore[union-attr]
    return line.decode().strip() if line else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile() -> int:
    """Children inherit this; the many-streams step needs ~2 sockets per stream in a gateway."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# --- upstream and gateway ----------------------------------------------------------------------


def start_upstream(args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen, int]:
    cmd = [PY, str(BENCH / "fake_upstream.py"), "--port", "0",
           "--chunks", str(args.chunks), "--chunk-delay-ms", str(args.chunk_delay_ms),
           "--latency-ms", str(args.latency_ms), "--slow-seconds", str(args.slow_seconds)]
    proc = spawn(cmd, args.harness_core, log=log)
    line = read_line(proc, 15)
    if not line or not line.startswith("PORT "):
        stop(proc)
        raise SystemExit(f"fake upstream did not start (see {log})")
    return proc, int(line.split()[1])


def render(text: str, subs: dict[str, str]) -> str:
    """Replace {name} placeholders; plain replace, so other braces (TOML, JSON) survive."""
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    return text


def gateway_env(subs: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ZDRGATE_MASTER_KEY", "bench-master-key-0123456789abcdef0123")
    # Lets the default command work before `pip install -e .`; harmless after it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      env.get("PYTHONPATH")]))
    env.update({"BENCH_UPSTREAM_URL": subs["upstream_url"],
                "BENCH_UPSTREAM_PORT": subs["upstream_port"],
                "BENCH_GATEWAY_PORT": subs["port"]})
    return env


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # 127.0.0.1 only
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def start_gateway(args: argparse.Namespace, subs: dict[str, str], log: Path,
                  ) -> tuple[subprocess.Popen, float]:
    """Start the gateway and time it from exec to the first 200 on the health URL."""
    cmd = shlex.split(render(args.gateway_cmd, subs))
    health = render(args.health_url, subs)
    t0 = time.perf_counter()
    proc = spawn(cmd, args.gateway_core, env=gateway_env(subs),
                 stdout=open(log, "ab"), log=log)  # noqa: SIM115 - child owns it
    deadline = t0 + args.startup_timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited with {proc.returncode} during start-up; see {log}")
        if http_status(health, timeout=1.0) == 200:
            return proc, time.perf_counter() - t0
        time.sleep(0.01)
    stop(proc)
    raise SystemExit(f"gateway not healthy after {args.startup_timeout}s at {health}; see {log}")


class RssSampler(threading.Thread):
    """Samples the gateway tree's RSS every 100 ms; the maximum is the peak under load."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak = max(self.peak, procstat.tree_rss_bytes(self.pid))


# --- load ---------------------------------------------------------------------------------------


def scenarios(args: argparse.Namespace, url: str, model: str, headers: dict[str, str],
              prefix: str) -> list[dict[str, Any]]:
    out = []
    for stream in (False, True):
        for c in args.concurrency:
            out.append({
                "name": f"{prefix}-{'stream' if stream else 'chat'}-c{c}", "url": url,
                "model": model, "concurrency": c, "stream": stream, "headers": headers,
                "requests": args.stream_requests if stream else args.requests,
                "warmup": args.warmup, "duration": args.duration,
            })
    return out


def run_loadgen(plan: dict[str, Any], run_dir: Path, core: int | None, name: str,
                timeout: float) -> list[dict[str, Any]]:
    """Run one load-generator process over a plan; return its JSON result lines."""
    plan_path = run_dir / f"plan-{name}.json"
    plan_path.write_text(json.dumps(plan, indent=1))
    proc = spawn([PY, str(BENCH / "loadgen.py"), "--plan", str(plan_path)], core,
                 log=run_dir / f"loadgen-{name}.log")
    results, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = read_line(proc, max(0.1, deadline - time.monotonic()))
            if line is None:
                break
            results.append(json.loads(line))
            print(f"  {brief(results[-1])}", flush=True)
    finally:
        stop(proc, grace=2)  # also on Ctrl-C: the child is in its own session
    return results


def brief(r: dict[str, Any]) -> str:
    """A one-line progress report for the console."""
    if "target_streams" in r:
        return (f"{r['name']}: opened {r['opened']}/{r['target_streams']} streams, "
                f"rss {mib(r['rss_bytes'])} MiB, errors {r['errors']}")
    lat = r["latency_ms"] or {}
    cpu = {k: round(v, 4) for k, v in r["cpu_ms_per_request"].items() if v is not None}
    return (f"{r['name']}: {r['rps']:.0f} rps, p50 {lat.get('p50', 0):.2f} ms, "
            f"p99 {lat.get('p99', 0):.2f} ms, errors {r['errors']}, cpu ms/req {cpu}")


def plan_budget(plan: dict[str, Any]) -> float:
    """Upper bound on a plan's run time, so a stuck target cannot hang the runner."""
    per = sum(min(s["duration"], 10) + s["duration"] + 5 for s in plan.get("scenarios", []))
    hold = plan.get("hold")
    return per + (hold["timeout"] + hold["hold_seconds"] + 30 if hold else 0) + 15


# --- report -------------------------------------------------------------------------------------


def mib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1048576:.1f}"


def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def by_key(results: list[dict[str, Any]]) -> dict[tuple[bool, int], dict[str, Any]]:
    return {(r["stream"], r["concurrency"]): r for r in results if "stream" in r}


def pick(r: dict[str, Any] | None, *path: str) -> float | None:
    for key in path:
        if r is None:
            return None
        r = r.get(key)
    return r  # type: ignore[return-value]


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def harness_use(r: dict[str, Any] | None) -> float | None:
    """Share of the harness core used by upstream + load generator; near 1.0 = harness-bound."""
    if not r or not r.get("elapsed_s"):
        return None
    cpu = r["cpu_s"]
    return (cpu.get("upstream", 0.0) + cpu.get("loadgen", 0.0)) / r["elapsed_s"]


def chat_table(direct: dict, gateway: dict, concurrency: list[int], label: str) -> list[str]:
    rows = [
        f"| clients | direct p50 / p99 ms | {label} p50 / p99 ms | added p50 / p99 ms "
        f"| p50 ratio | direct rps | {label} rps | {label} CPU ms/req | errors | harness core |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in concurrency:
        d, g = direct.get((False, c)), gateway.get((False, c))
        dp50, dp99 = pick(d, "latency_ms", "p50"), pick(d, "latency_ms", "p99")
        gp50, gp99 = pick(g, "latency_ms", "p50"), pick(g, "latency_ms", "p99")
        rows.append(
            f"| {c} | {fmt(dp50)} / {fmt(dp99)} | {fmt(gp50)} / {fmt(gp99)} "
            f"| {fmt(diff(gp50, dp50))} / {fmt(diff(gp99, dp99))} | {fmt(ratio(gp50, dp50))} "
            f"| {fmt(pick(d, 'rps'), 0)} | {fmt(pick(g, 'rps'), 0)} "
            f"| {fmt(pick(g, 'cpu_ms_per_request', 'gateway'), 3)} "
            f"| {pick(g, 'errors') if g else '-'} | {fmt(harness_use(g))} |"
        )
    return rows


def stream_table(direct: dict, gateway: dict, concurrency: list[int], label: str) -> list[str]:
    rows = [
        f"| clients | direct TTFB p50 ms | {label} TTFB p50 / p99 ms | added TTFB p50 ms "
        f"| direct stream p50 ms | {label} stream p50 ms | {label} CPU ms/stream | errors "
        "| harness core |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in concurrency:
        d, g = direct.get((True, c)), gateway.get((True, c))
        dt_, gt_ = pick(d, "ttfb_ms", "p50"), pick(g, "ttfb_ms", "p50")
        rows.append(
            f"| {c} | {fmt(dt_)} | {fmt(gt_)} / {fmt(pick(g, 'ttfb_ms', 'p99'))} "
            f"| {fmt(diff(gt_, dt_))} | {fmt(pick(d, 'latency_ms', 'p50'))} "
            f"| {fmt(pick(g, 'latency_ms', 'p50'))} "
            f"| {fmt(pick(g, 'cpu_ms_per_request', 'gateway'), 3)} "
            f"| {pick(g, 'errors') if g else '-'} | {fmt(harness_use(g))} |"
        )
    return rows


def harness_table(direct_results: list[dict[str, Any]]) -> list[str]:
    """Direct-mode costs of the harness itself: proof it is not the bottleneck."""
    rows = ["| direct scenario | rps | upstream CPU ms/req | loadgen CPU ms/req "
            "| harness core use |", "|---|---:|---:|---:|---:|"]
    for r in direct_results:
        if "stream" not in r:
            continue
        cpu = r["cpu_ms_per_request"]
        rows.append(f"| {r['name']} | {r['rps']:.0f} | {fmt(cpu.get('upstream'), 3)} "
                    f"| {fmt(cpu.get('loadgen'), 3)} | {fmt(harness_use(r))} |")
    return rows


def summary_rows(report: dict[str, Any], label: str) -> list[str]:
    gw = report.get("gateway") or {}
    rows = ["| measure | value |", "|---|---:|",
            f"| {label} start-up to /healthz 200 | {fmt(gw.get('startup_s'), 3)} s |",
            f"| idle RSS (process tree) | {mib(gw.get('idle_rss_bytes'))} MiB |",
            f"| peak RSS under load (sampled every 100 ms) | {mib(gw.get('peak_rss_bytes'))} MiB |"]
    hold = gw.get("slow_streams")
    if hold:
        before = mib(hold.get("rss_before_bytes"))
        rows.append(f"| RSS just before the slow streams | {before} MiB |")
        rows.append(f"| RSS with {hold['opened']} concurrent slow streams "
                    f"(of {hold['target_streams']} asked) | {mib(hold['rss_bytes'])} MiB |")
        per = hold.get("rss_per_stream_bytes")
        if per is not None:
            rows.append(f"| RSS per open stream | {per / 1024:.1f} KiB |")
            rows.append(f"| RSS extrapolated to 10,000 streams | "
                        f"{mib(hold.get('rss_at_10k_bytes'))} MiB |")
        rows.append(f"| upstream saw open streams | {hold.get('upstream_open_streams')} |")
        rows.append(f"| time to open them | {fmt(hold.get('open_time_s'), 1)} s |")
    return rows


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                            capture_output=True, text=True, check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "commit": commit or "(no commit yet)",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def markdown(report: dict[str, Any]) -> str:
    m, label, conc = report["machine"], report["gateway_label"], report["config"]["concurrency"]
    direct, gateway = by_key(report["direct"]), by_key(report.get("gateway", {}).get("runs", []))
    lines = [
        f"### {label} vs direct — {m['date']}{' (quick)' if report['config']['quick'] else ''}",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, Linux {m['kernel']}, "
        f"Python {m['python']}, commit {m['commit']}. Gateway ({report['config']['workers']} "
        f"worker(s), usage_flush_seconds {report['config']['usage_flush_seconds']}) on core "
        f"{report['config']['gateway_core']} (-1: not pinned); upstream and load generator on core "
        f"{report['config']['harness_core']}. Streams: {report['config']['chunks']} chunks, "
        f"{report['config']['chunk_delay_ms']} ms apart, usage chunk on.",
        "", "Non-streaming chat completions:", "",
        *chat_table(direct, gateway, conc, label),
        "", f"Streaming ({report['config']['chunks']}-chunk streams):", "",
        *stream_table(direct, gateway, conc, label),
        "", *summary_rows(report, label),
        "", "Harness cost (direct mode; the upstream and load generator share one core):", "",
        *harness_table(report["direct"]),
    ]
    return "\n".join(lines) + "\n"


# --- phases -------------------------------------------------------------------------------------


def direct_phase(args: argparse.Namespace, up_pid: int, up_port: int, run_dir: Path) -> list:
    print("direct (load generator -> fake upstream):", flush=True)
    url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
    headers = {"Authorization": "Bearer bench-upstream-key"}
    plan = {"cpu_pids": {"upstream": up_pid},
            "scenarios": scenarios(args, url, "echo-1", headers, "direct")}
    return run_loadgen(plan, run_dir, args.harness_core, "direct", plan_budget(plan))


def hold_plan(args: argparse.Namespace, url: str, headers: dict[str, str], gw_pid: int,
              up_port: int, hard_limit: int) -> tuple[dict[str, Any], int]:
    # A proxying gateway holds two sockets per stream (client side + upstream side), in
    # each worker process (each has its own fd limit).
    per_process = (hard_limit - 512) // 2
    streams = min(args.slow_streams, per_process * getattr(args, "workers", 1))
    scenario = {"name": "slow-streams", "url": url, "model": args.slow_model,
                "headers": headers, "stream": True}
    return {"hold": {"scenario": scenario, "streams": streams, "rss_pid": gw_pid,
                     "batch": 500, "hold_seconds": 2.0, "timeout": args.slow_timeout,
                     "stats_url": f"http://127.0.0.1:{up_port}/_bench/stats"}}, streams


def slow_stream_phase(args: argparse.Namespace, ctx: dict[str, Any]) -> dict:
    plan, streams = hold_plan(args, ctx["url"], ctx["headers"], ctx["gw_pid"],
                              ctx["up_port"], ctx["hard_limit"])
    if streams < args.slow_streams:
        print(f"  capped at {streams} streams: RLIMIT_NOFILE hard limit is "
              f"{ctx['hard_limit']} and a gateway process needs 2 sockets per stream",
              flush=True)
    # Baseline just before, not the idle RSS: the load phases already grew pools and heaps.
    before = procstat.tree_rss_bytes(ctx["gw_pid"])
    res = run_loadgen(plan, ctx["run_dir"], args.harness_core, "slow", plan_budget(plan))
    if not res:
        return {"error": "load generator returned nothing"}
    hold = res[0]
    hold["rss_before_bytes"] = before
    if hold.get("rss_bytes") and hold["opened"]:
        per = (hold["rss_bytes"] - before) / hold["opened"]
        hold["rss_per_stream_bytes"] = per
        hold["rss_at_10k_bytes"] = int(before + per * 10_000)
    return hold


def gateway_phase(args: argparse.Namespace, up_pid: int, up_port: int, run_dir: Path,
                  hard_limit: int) -> dict[str, Any]:
    subs = {"port": str(free_port()), "upstream_port": str(up_port),
            "upstream_url": f"http://127.0.0.1:{up_port}/v1", "tmpdir": str(run_dir),
            "python": PY, "config": str(run_dir / "zdrgate-bench.toml")}
    config = render((BENCH / "zdrgate-bench.toml").read_text(), subs)
    flush = f"[storage]\nusage_flush_seconds = {float(args.usage_flush_seconds)!r}\n"
    config = config.replace("[storage]\n", flush, 1)
    if args.database_url:
        config = config.replace('database_url = "sqlite:///', '# database_url = "sqlite:///', 1)
        url = f"[storage]\ndatabase_url = {args.database_url!r}\n"
        config = config.replace("[storage]\n", url, 1)
    Path(subs["config"]).write_text(config)
    if args.workers > 1:
        args.gateway_cmd += f" --workers {args.workers}"
    print(f"{args.gateway_label}: starting `{render(args.gateway_cmd, subs)}`", flush=True)
    proc, startup = start_gateway(args, subs, run_dir / "gateway.log")
    try:
        time.sleep(1.0)  # let lazy start-up work settle before calling it "idle"
        out: dict[str, Any] = {"startup_s": startup, "pid": proc.pid,
                               "idle_rss_bytes": procstat.tree_rss_bytes(proc.pid)}
        print(f"  healthy after {startup:.3f} s, idle RSS {mib(out['idle_rss_bytes'])} MiB")
        sampler = RssSampler(proc.pid)
        sampler.start()
        url = render(args.gateway_url, subs)
        headers = {"Authorization": f"Bearer {args.api_key}"}
        headers.update(dict(parse_header(render(h, subs)) for h in args.header))
        plan = {"cpu_pids": {"gateway": proc.pid, "upstream": up_pid},
                "scenarios": scenarios(args, url, args.model, headers, args.gateway_label)}
        out["runs"] = run_loadgen(plan, run_dir, args.harness_core, "gateway",
                                  plan_budget(plan))
        if args.slow_streams > 0:
            ctx = {"url": url, "headers": headers, "gw_pid": proc.pid, "up_port": up_port,
                   "hard_limit": hard_limit, "run_dir": run_dir}
            out["slow_streams"] = slow_stream_phase(args, ctx)
        sampler.done.set()
        sampler.join()
        out["peak_rss_bytes"] = max(sampler.peak, procstat.tree_rss_bytes(proc.pid))
        out["vmhwm_bytes"] = procstat.tree_hwm_bytes(proc.pid)
        return out
    finally:
        stop(proc)


def parse_header(text: str) -> tuple[str, str]:
    name, _, value = text.partition(":")
    return name.strip(), value.strip()


# --- entry point --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="zdrgate benchmark runner (see bench/README.md)")
    p.add_argument("--quick", action="store_true", help="~10 s smoke run: 16 clients, short")
    p.add_argument("--gateway-cmd", default=default_gateway_cmd(),
                   help="placeholders: {port} {upstream_url} {upstream_port} {config} "
                        "{tmpdir} {python}")
    p.add_argument("--gateway-url", default="http://127.0.0.1:{port}/v1/chat/completions")
    p.add_argument("--health-url", default="http://127.0.0.1:{port}/healthz")
    p.add_argument("--gateway-label", default="zdrgate")
    p.add_argument("--model", default="bench/echo")
    p.add_argument("--slow-model", default="bench/slow",
                   help="a model the gateway maps to an upstream name containing 'slow'")
    p.add_argument("--api-key", default="bench-master-key-0123456789abcdef0123")
    p.add_argument("--header", action="append", default=[],
                   help="extra request header 'Name: value' (placeholders allowed)")
    p.add_argument("--direct-only", action="store_true", help="measure the harness only")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--requests", type=int, help="per non-streaming scenario")
    p.add_argument("--stream-requests", type=int, help="per streaming scenario")
    p.add_argument("--warmup", type=int)
    p.add_argument("--duration", type=float, help="cap per measured scenario, seconds")
    p.add_argument("--slow-streams", type=int,
                   help="concurrent slow streams for the RSS test (0 skips; full default 10000)")
    p.add_argument("--slow-timeout", type=float, default=90.0, help="cap to open them, s")
    p.add_argument("--slow-seconds", type=float, default=300.0,
                   help="how long the upstream holds a slow stream")
    p.add_argument("--chunks", type=int, default=8)
    p.add_argument("--chunk-delay-ms", type=float, default=1.0,
                   help="gap between upstream chunks, so each one arrives on its own")
    p.add_argument("--latency-ms", type=float, default=0.0, help="upstream think time")
    p.add_argument("--gateway-core", type=int, default=1, help="-1: not pinned (--workers)")
    p.add_argument("--workers", type=int, default=1,
                   help="zdrgate serve --workers N (default command; use --gateway-core -1)")
    p.add_argument("--database-url", default="", help="instead of SQLite in the run's directory")
    p.add_argument("--usage-flush-seconds", type=float, default=1.0,
                   help="storage.usage_flush_seconds of the rendered config (0: durable)")
    p.add_argument("--harness-core", type=int, default=0)
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--out", type=Path, default=BENCH / "out")
    return apply_mode_defaults(p.parse_args(argv))


def apply_mode_defaults(args: argparse.Namespace) -> argparse.Namespace:
    quick = {"concurrency": [16], "requests": 3000, "stream_requests": 600, "warmup": 100,
             "duration": 1.5, "slow_streams": 0}
    full = {"concurrency": [1, 16, 64], "requests": 5000, "stream_requests": 2000,
            "warmup": 300, "duration": 15.0, "slow_streams": 10_000}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def write_outputs(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tag = f"{stamp}-{report['gateway_label']}{'-quick' if report['config']['quick'] else ''}"
    json_path, md_path = out_dir / f"{tag}.json", out_dir / f"{tag}.md"
    json_path.write_text(json.dumps(report, indent=1))
    md_path.write_text(report["markdown"])
    return json_path, md_path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    hard_limit = raise_nofile()
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {args.harness_core})  # the runner mostly sleeps; keep it off
    started = time.perf_counter()
    run_dir = Path(tempfile.mkdtemp(prefix="zdrgate-bench-"))
    upstream, up_port = start_upstream(args, run_dir / "upstream.log")
    report: dict[str, Any] = {"machine": machine_info(), "gateway_label": args.gateway_label,
                              "config": {k: (str(v) if isinstance(v, Path) else v)
                                         for k, v in vars(args).items()}}
    try:
        report["direct"] = direct_phase(args, upstream.pid, up_port, run_dir)
        if not args.direct_only:
            report["gateway"] = gateway_phase(args, upstream.pid, up_port, run_dir, hard_limit)
    finally:
        stop(upstream)
    report["elapsed_s"] = time.perf_counter() - started
    report["run_dir"] = str(run_dir)
    report["markdown"] = markdown(report)
    json_path, md_path = write_outputs(report, args.out)
    print("\n" + report["markdown"])
    print(f"wrote {json_path} and {md_path} in {report['elapsed_s']:.1f} s "
          f"(logs in {run_dir})")


if __name__ == "__main__":
    main()
