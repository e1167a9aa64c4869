"""Closed-loop HTTP load generator for OpenAI-compatible chat endpoints (httptools + uvloop).

N concurrent keep-alive clients share one bounded request budget and a time cap.
It reports RPS, latency p50/p90/p99, errors and, for streams, time to first
body byte (the first SSE event). It also reads the CPU time of the processes
under test from /proc exactly around the measured window (after warm-up), so
start-up and warm-up of the load generator are never charged to them, and it
reports its own CPU per request so one can check it is not the bottleneck.

Single scenario:
  python bench/loadgen.py --url http://127.0.0.1:PORT/v1/chat/completions -c 16 -n 4000
  ... --stream                  SSE streams (stream_options.include_usage = true)
  ... --hold 2000               open 2000 streams at once, keep them open, report
The runner drives it with --plan FILE (JSON) and reads one JSON line per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools
import procstat

# A realistic, small chat request (~350 bytes), the same for every target.
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
    {"role": "user", "content": "Summarise why zero data retention matters for a gateway."},
]
REQUEST_TIMEOUT_S = 60.0  # per request; a stuck request aborts its connection


def request_body(model: str, stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": model, "messages": MESSAGES, "max_tokens": 64, "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p99/mean/max in milliseconds (values are seconds)."""
    if not values:
        return None
    s = sorted(values)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(p * len(s)))] * 1000

    return {
        "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
        "mean": sum(s) / len(s) * 1000, "max": s[-1] * 1000,
    }


@dataclass
class Scenario:
    name: str
    url: str
    model: str = "bench/echo"
    concurrency: int = 16
    requests: int = 2000
    warmup: int = 200
    duration: float = 20.0  # hard cap on the measured phase, seconds
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    remaining: int
    deadline: float
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection, parsed with httptools.

    aiohttp's client costs ~0.25 ms CPU per request on this machine kind, which
    would make the load generator the bottleneck; this costs a fraction of it.
    One request at a time per connection (no pipelining), like real clients.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.waiter: asyncio.Future | None = None
        self.first_byte: asyncio.Future | None = None
        self.keep_alive = True
        self.status = 0
        self.t0 = 0.0
        self.ttfb: float | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)  # type: ignore[union-attr]
        except httptools.HttpParserError as exc:
            self.fail(exc)
            self.close()

    def fail(self, exc: Exception) -> None:
        for fut in (self.waiter, self.first_byte):
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    @property
    def usable(self) -> bool:
        return self.transport is not None and self.keep_alive and not self.transport.is_closing()

    def send(self, payload: bytes, want_first_byte: bool = False) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = loop.create_future()
        self.first_byte = loop.create_future() if want_first_byte else None
        self.status, self.ttfb, self.body = 0, None, []
        self.t0 = time.perf_counter()
        self.transport.write(payload)  # type: ignore[union-attr]
        return self.waiter

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()  # type: ignore[union-attr]
        self.keep_alive = self.parser.should_keep_alive()  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.t0
            if self.first_byte is not None and not self.first_byte.done():
                self.first_byte.set_result(None)
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(b"".join(self.body))


def build_request(sc: Scenario, body: bytes) -> tuple[str, int, bytes]:
    """Pre-render the request bytes once; every request of a scenario is identical."""
    url = urlsplit(sc.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    headers = {"Host": f"{host}:{port}", "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream", **sc.headers,
               "Content-Length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"POST {url.path or '/'} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body
    return host, port, raw


async def connect(host: str, port: int) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(loop.create_connection(Conn, host, port), 30)
    return conn


def check_body(sc: Scenario, conn: Conn, data: bytes) -> str | None:
    """Return an error text, or None when the response is a complete, sane reply."""
    if conn.status != 200:
        return f"HTTP {conn.status}: {data[:200]!r}"
    if sc.stream:
        return None if b"data: [DONE]" in data[-64:] else "stream ended without [DONE]"
    return None if b'"choices"' in data else "reply without choices"


async def one_request(conn: Conn, sc: Scenario, raw: bytes, tally: Tally) -> None:
    loop = asyncio.get_running_loop()
    # A timer that aborts the connection bounds every request without a Task per request.
    guard = loop.call_later(REQUEST_TIMEOUT_S, conn.close)
    try:
        data = await conn.send(raw)
    except (ConnectionError, OSError, httptools.HttpParserError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
        return
    finally:
        guard.cancel()
    problem = check_body(sc, conn, data)
    if problem:
        tally.error(problem)
        return
    tally.latencies.append(time.perf_counter() - conn.t0)
    if sc.stream and conn.ttfb is not None:
        tally.ttfbs.append(conn.ttfb)


async def worker(pool: list[Conn | None], slot: int, sc: Scenario, tally: Tally) -> None:
    host, port, raw = build_request(sc, request_body(sc.model, sc.stream))
    while tally.remaining > 0 and time.perf_counter() < tally.deadline:
        tally.remaining -= 1
        conn = pool[slot]
        if conn is None or not conn.usable:
            try:
                conn = pool[slot] = await connect(host, port)
            except (TimeoutError, OSError) as exc:
                tally.error(f"connect: {type(exc).__name__}: {exc}")
                await asyncio.sleep(0.05)
                continue
        await one_request(conn, sc, raw, tally)


async def drive(pool: list[Conn | None], sc: Scenario, count: int, cap: float) -> Tally:
    """Run ``count`` requests (or until ``cap`` seconds) over one connection per client."""
    tally = Tally(remaining=count, deadline=time.perf_counter() + cap)
    await asyncio.gather(*(worker(pool, i, sc, tally) for i in range(sc.concurrency)))
    return tally


def cpu_snapshot(cpu_pids: dict[str, int]) -> dict[str, float]:
    snap = {label: procstat.tree_cpu_seconds(pid) for label, pid in cpu_pids.items()}
    snap["loadgen"] = procstat.own_cpu_seconds()
    return snap


async def run_scenario(sc: Scenario, cpu_pids: dict[str, int]) -> dict[str, Any]:
    pool: list[Conn | None] = [None] * sc.concurrency
    try:
        # Warm-up also opens the keep-alive connections, so the window measures steady state.
        warm = await drive(pool, sc, max(sc.warmup, sc.concurrency), cap=min(sc.duration, 10))
        before, t0 = cpu_snapshot(cpu_pids), time.perf_counter()
        tally = await drive(pool, sc, sc.requests, cap=sc.duration)
        elapsed, after = time.perf_counter() - t0, cpu_snapshot(cpu_pids)
    finally:
        for conn in pool:
            if conn is not None:
                conn.close()
    return summarise(sc, tally, elapsed, before, after, warm.errors)


def summarise(
    sc: Scenario, tally: Tally, elapsed: float, before: dict[str, float],
    after: dict[str, float], warm_errors: int,
) -> dict[str, Any]:
    ok = len(tally.latencies)
    cpu = {k: after[k] - before[k] for k in after}
    return {
        "name": sc.name, "url": sc.url, "model": sc.model, "stream": sc.stream,
        "concurrency": sc.concurrency, "requests_ok": ok, "errors": tally.errors,
        "warmup_errors": warm_errors, "error_samples": tally.error_samples,
        "elapsed_s": elapsed, "rps": ok / elapsed if elapsed else 0.0,
        "latency_ms": percentiles(tally.latencies), "ttfb_ms": percentiles(tally.ttfbs),
        "cpu_s": cpu,
        "cpu_ms_per_request": {k: v / ok * 1000 if ok else None for k, v in cpu.items()},
        "loadgen_core_util": cpu["loadgen"] / elapsed if elapsed else None,
        "cpu_resolution_s": 1 / procstat.CLK_TCK,
    }


# --- many concurrent slow streams (memory test) --------------------------------------------


async def hold_one(
    host: str, port: int, raw: bytes, opened: list[float], release: asyncio.Event,
    tally: Tally,
) -> None:
    """Open one stream, note its first byte, then keep it open until ``release``."""
    conn: Conn | None = None
    try:
        conn = await connect(host, port)
        done = conn.send(raw, want_first_byte=True)
        # A failed stream finishes ``done`` early; make sure that does not hang us.
        await asyncio.wait([conn.first_byte, done], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[list-item]
        if conn.status != 200 or conn.ttfb is None:
            tally.error(f"HTTP {conn.status} before first byte")
            return
        opened.append(conn.ttfb)
        await release.wait()
    except (TimeoutError, ConnectionError, OSError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
    finally:
        if conn is not None:
            if conn.waiter is not None and not conn.waiter.done():
                conn.waiter.cancel()
            conn.close()


async def upstream_open_streams(stats_url: str | None) -> Any:
    """Ask the fake upstream how many streams it holds open right now."""
    if not stats_url:
        return None
    url = urlsplit(stats_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    raw = f"GET {url.path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    try:
        conn = await connect(host, port)
        data = await asyncio.wait_for(conn.send(raw), 10)
        conn.close()
        return json.loads(data).get("open_streams")
    except (TimeoutError, OSError, ValueError, ConnectionError):
        return None


async def open_in_batches(
    n: int, batch: int, deadline: float, start_one: Any, opened: list[float], tally: Tally,
) -> list[asyncio.Task]:
    """Start ``n`` streams ``batch`` at a time, waiting for each batch's first bytes.

    Batches (not one burst of n connects) keep the gateway's listen backlog from
    overflowing, which would only measure SYN retry timers.
    """
    tasks: list[asyncio.Task] = []
    while len(tasks) < n and time.perf_counter() < deadline:
        tasks += [asyncio.ensure_future(start_one()) for _ in range(min(batch, n - len(tasks)))]
        while len(opened) + tally.errors < len(tasks) and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    return tasks


async def run_hold(sc: Scenario, n: int, opts: dict[str, Any], rss_pid: int | None) -> dict:
    """Open ``n`` slow streams, wait until all have a first byte, sample RSS, release all."""
    deadline = time.perf_counter() + opts.get("timeout", 90.0)
    host, port, raw = build_request(sc, request_body(sc.model, True))
    opened: list[float] = []
    release, tally = asyncio.Event(), Tally(remaining=n, deadline=deadline)
    t0 = time.perf_counter()
    tasks = await open_in_batches(
        n, opts.get("batch", 500), deadline,
        lambda: hold_one(host, port, raw, opened, release, tally), opened, tally,
    )
    open_s = time.perf_counter() - t0
    hold_s = min(opts.get("hold_seconds", 2.0), max(0.0, deadline - time.perf_counter()))
    await asyncio.sleep(hold_s)
    result = {
        "name": sc.name, "target_streams": n, "opened": len(opened),
        "errors": tally.errors, "error_samples": tally.error_samples,
        "open_time_s": open_s, "ttfb_ms": percentiles(opened),
        "rss_bytes": procstat.tree_rss_bytes(rss_pid) if rss_pid else None,
        "upstream_open_streams": await upstream_open_streams(opts.get("stats_url")),
    }
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return result


# --- entry point ----------------------------------------------------------------------------


def raise_nofile() -> None:
    """Many concurrent streams need many sockets; lift the soft fd limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def run_plan(plan: dict[str, Any]) -> None:
    cpu_pids = {k: int(v) for k, v in plan.get("cpu_pids", {}).items()}
    for spec in plan.get("scenarios", []):
        result = await run_scenario(Scenario(**spec), cpu_pids)
        print(json.dumps(result), flush=True)
    hold = plan.get("hold")
    if hold:
        sc = Scenario(**hold["scenario"])
        result = await run_hold(sc, hold["streams"], hold, hold.get("rss_pid"))
        print(json.dumps(result), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plan", help="JSON plan written by bench/run.py")
    p.add_argument("--url", default="http://127.0.0.1:8000/v1/chat/completions")
    p.add_argument("--model", default="bench/echo")
    p.add_argument("--api-key", default="bench-master-key-0123456789abcdef0123")
    p.add_argument("-c", "--concurrency", type=int, default=16)
    p.add_argument("-n", "--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--duration", type=float, default=20.0, help="cap, seconds")
    p.add_argument("--stream", action="store_true")
    p.add_argument("--hold", type=int, default=0, help="open this many slow streams")
    p.add_argument("--cpu-pid", type=int, action="append", default=[],
                   help="report CPU of this process tree too (repeatable)")
    return p.parse_args(argv)


def plan_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.plan:
        with open(args.plan) as fh:
            return json.load(fh)
    spec = {
        "name": "cli", "url": args.url, "model": args.model,
        "concurrency": args.concurrency, "requests": args.requests,
        "warmup": args.warmup, "duration": args.duration, "stream": args.stream,
        "headers": {"Authorization": f"Bearer {args.api_key}"},
    }
    cpu_pids = {f"pid{p}": p for p in args.cpu_pid}
    if args.hold:
        return {"hold": {"scenario": spec, "streams": args.hold}}
    return {"cpu_pids": cpu_pids, "scenarios": [spec]}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raise_nofile()
    plan = plan_from_args(args)
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    run(run_plan(plan))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
