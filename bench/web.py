"""The web app's budgets, measured in Debian's Chromium on loopback.

- page weight: bytes on the wire (gzip-compressed bodies, from the browser's resource
  timing) of the chat page's first load, split into the page itself (HTML, CSS, modules,
  vendored libraries) and the API data it reads (/v1/models with 400+ models);
- time to interactive: from navigation start to the page's ``zdr-ready`` mark (models
  loaded, composer usable);
- picker filter time: each keystroke of a few queries typed into the model picker over
  the whole catalog, from the input event to the end of the redraw with a forced layout.

    .venv/bin/python bench/web.py            # 5 runs each, medians; ~20 s

The gateway runs in this process (uvicorn on a thread) with the shipped catalog; the
browser is a separate process. Prints a markdown block for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from typing import Any

import httpx
import uvicorn
from playwright.sync_api import sync_playwright

from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.config import parse_settings
from zdrgate.server.app import app_for, build_state
from zdrgate.server.listing_cache import Rendered
from zdrgate.server.routes import models_list
from zdrgate.server.run import SERVER_OPTIONS
from zdrgate.server.state import AppState

KEY = "bench-master-key-0123456789abcdef0123"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUERIES = ["llama 70b", "claude", "vision", "gpt-4o-mini"]

WEIGHT = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const out = { page: nav.encodedBodySize, data: 0, files: 1 };
  for (const r of performance.getEntriesByType("resource")) {
    const file = new URL(r.name).pathname.startsWith("/static/");
    if (file) { out.page += r.encodedBodySize; out.files += 1; }
    else out.data += r.encodedBodySize;
  }
  return out;
}"""

FILTER = """(query) => {
  const input = document.querySelector("[role=combobox]");
  const times = [];
  for (let i = 1; i <= query.length; i += 1) {
    input.value = query.slice(0, i);
    const t = performance.now();
    input.dispatchEvent(new Event("input"));
    const u = performance.now();
    document.querySelector(".model-list").offsetHeight;  // force layout
    times.push([performance.now() - t, u - t]);  // whole keystroke, its script alone
  }
  return times;
}"""


def serve(tmp: str) -> tuple[str, uvicorn.Server, AppState]:
    settings = parse_settings({"storage": {"database_url": f"sqlite:///{tmp}/zdrgate.db"}})
    state = build_state(
        settings, catalog=load_packaged_catalog(), environ={"ZDRGATE_MASTER_KEY": KEY}
    )
    server = uvicorn.Server(
        uvicorn.Config(app_for(state), host="127.0.0.1", port=0, **SERVER_OPTIONS)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server, state


def models_timing(url: str, state: AppState, calls: int = 40) -> dict[str, float]:
    """/v1/models: one render of the document (what every call cost before the cache),
    and a whole call over loopback (gzip) once it is cached, medians."""
    renders = []
    for _ in range(5):
        t = time.perf_counter()
        Rendered.of(models_list(state, only_routable=False))
        renders.append((time.perf_counter() - t) * 1000)
    served = []
    headers = {"Authorization": f"Bearer {KEY}", "accept-encoding": "gzip"}
    with httpx.Client(headers=headers) as client:
        client.get(url + "/v1/models")
        for _ in range(calls):
            t = time.perf_counter()
            client.get(url + "/v1/models").raise_for_status()
            served.append((time.perf_counter() - t) * 1000)
    return {"render_ms": statistics.median(renders), "served_ms": statistics.median(served)}


def first_load(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {KEY}"})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    weight = page.evaluate(WEIGHT)
    ready = page.evaluate("() => performance.getEntriesByName('zdr-ready')[0].startTime")
    page.get_by_role("button", name="Accept all", exact=True).click()
    page.locator(".model-button").click()
    count = page.evaluate("() => document.querySelectorAll('[role=option]').length")
    times: list[list[float]] = []
    for query in QUERIES:
        times += page.evaluate(FILTER, query)
    context.close()
    return {
        **weight,
        "ready_ms": ready,
        "filter_ms": [t[0] for t in times],
        "script_ms": [t[1] for t in times],
        "options_in_dom": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        url, server, state = serve(tmp)
        browser = pw.chromium.launch(executable_path=args.chromium, args=ARGS)
        first_load(browser, url)  # warm-up: the gateway's caches, the browser's start
        runs = [first_load(browser, url) for _ in range(args.runs)]
        browser.close()
        listing = models_timing(url, state)
        server.should_exit = True
    print(report(runs, args.runs, listing))


def report(runs: list[dict[str, Any]], count: int, listing: dict[str, float]) -> str:
    run = runs[-1]
    keys = sorted(t for r in runs for t in r["filter_ms"])
    script = sorted(t for r in runs for t in r["script_ms"])
    ready = statistics.median(r["ready_ms"] for r in runs)
    models = len(load_packaged_catalog().models)
    rows = [
        (
            f"chat page first load, page files ({run['files']} files, gzip)",
            f"{run['page'] / 1024:.1f} KB",
            "≤ 300 KB",
        ),
        (
            f"chat page first load, API data (/v1/models, {models} models, gzip)",
            f"{run['data'] / 1024:.1f} KB",
            "",
        ),
        (
            "time to interactive (navigation start to models loaded), median",
            f"{ready:.0f} ms",
            "≤ 1000 ms",
        ),
        (
            f"picker filter per keystroke, {models} models, median / p95 / max ({len(keys)} keys)",
            f"{statistics.median(keys):.2f} / {keys[len(keys) * 19 // 20]:.2f} / {keys[-1]:.2f} ms",
            "< 50 ms",
        ),
        (
            "of which the picker's script (filter, sort, rows), median / p95",
            f"{statistics.median(script):.2f} / {script[len(script) * 19 // 20]:.2f} ms",
            "",
        ),
        (
            "/v1/models: rendering the whole list (what each call cost uncached), median",
            f"{listing['render_ms']:.1f} ms",
            "",
        ),
        (
            "/v1/models: a call over loopback, cached (gzip), median of 40",
            f"{listing['served_ms']:.2f} ms",
            "",
        ),
        (
            "picker rows in the DOM with the whole list open (virtualized)",
            str(run["options_in_dom"]),
            "",
        ),
    ]
    head = f"### Web app ({time.strftime('%Y-%m-%d')}, Chromium headless, loopback, {count} runs)"
    lines = [head, "", "| what | figure | budget |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
