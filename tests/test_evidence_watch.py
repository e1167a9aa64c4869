"""Evidence watch against pages served on loopback: unchanged -> nothing; changed ->
"needs review" in the log; suspended -> unroutable with a reason `explain` shows,
until `zdrgate catalog verify`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from click.testing import CliRunner

from conftest import ZDR_POLICY, GatewayFactory, chat_model, provider
from fake_openai import ServerThread
from zdrgate.cli import main
from zdrgate.policylog import PolicyLog

PAGE = "<html><head><title>t</title></head><body><p>We keep   nothing.</p>{x}</body></html>"


class Pages:
    def __init__(self) -> None:
        self.body = {"/dpa": PAGE.format(x=""), "/beta": "<p>Beta retains nothing.</p>"}
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        body = self.body.get(request.path)
        if body is None:
            return web.Response(status=404)
        return web.Response(text=body, content_type="text/html")


@pytest.fixture
def pages() -> Iterator[tuple[Pages, str]]:
    served = Pages()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", served.handle)
    server = ServerThread(app)
    port = server.start()
    yield served, f"http://127.0.0.1:{port}"
    server.stop()


def config(tmp_path: Path, base: str, on_change: str) -> tuple[Path, dict[str, Any]]:
    providers = {
        "alpha": provider(base + "/v1", [chat_model("a1", "test/a1")],
                          {**ZDR_POLICY, "evidence": base + "/dpa"}),
        "beta": provider(base + "/v1", [chat_model("b1", "test/b1")],
                         {**ZDR_POLICY, "evidence": base + "/beta"}),
    }
    lines = [f'[storage]\ndatabase_url = "sqlite:///{tmp_path}/zdrgate.db"',
             f'data_dir = "{tmp_path}"', f'[evidence]\non_change = "{on_change}"']
    for name, conf in providers.items():
        pol = conf["policy"]
        lines += [f"[providers.{name}]", 'protocol = "openai"', f'base_url = "{conf["base_url"]}"',
                  'api_key = "k"', f"[providers.{name}.policy]", "retention_days = 0",
                  "trains_on_data = false", f'evidence = "{pol["evidence"]}"',
                  f'verified_on = "{pol["verified_on"]}"', f"[[providers.{name}.models]]",
                  f'id = "test/{name[0]}1"', f'upstream_id = "{name[0]}1"']
    path = tmp_path / f"{on_change}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, providers


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def watch(path: Path) -> dict[str, Any]:
    code, out = cli("catalog", "watch", "--config", str(path), "--provider", "alpha",
                    "--provider", "beta", "--json")
    assert code == 0, out
    report: dict[str, Any] = json.loads(out)
    return report


def reasons(path: Path, model: str) -> str:
    code, out = cli("explain", model, "--config", str(path), "--json")
    assert code == 0, out
    return str(json.loads(out)["endpoints"][0]["reasons"])


def test_watch_review_suspend_and_reverify(
    pages: tuple[Pages, str], tmp_path: Path, make_gateway: GatewayFactory
) -> None:
    served, base = pages
    path, providers = config(tmp_path, base, "suspend")
    first = watch(path)
    assert first["summary"] == {"first_seen": 2, "unchanged": 0, "changed": 0, "unreachable": 0}
    log_size = len(PolicyLog_of(tmp_path).entries())
    # Markup and whitespace only: no change.
    served.body["/dpa"] = PAGE.format(x="<script>track()</script>").replace("   ", "\n ")
    assert watch(path)["summary"]["unchanged"] == 2
    assert len(PolicyLog_of(tmp_path).entries()) == log_size
    # The words change: alpha needs review, and is suspended.
    served.body["/dpa"] = PAGE.format(x="<p>We may keep logs for 30 days.</p>")
    report = watch(path)
    assert [(p["provider"], p["outcome"]) for p in report["providers"]] == [
        ("alpha", "changed"), ("beta", "unchanged")]
    last = PolicyLog_of(tmp_path).entries()[-1].change
    assert (last.provider, last.reason.value, last.status.value) == (
        "alpha", "evidence_changed", "needs_review")
    assert last.endpoints == ("alpha/a1",)
    assert "evidence_under_review" in reasons(path, "test/a1")
    assert "evidence_under_review" not in reasons(path, "test/b1")
    keep, _ = config(tmp_path, base, "keep")
    assert "evidence_under_review" not in reasons(keep, "test/a1")
    # A running gateway with the same database refuses alpha and names the reason.
    gw = make_gateway(providers, extra={"evidence": {"on_change": "suspend"}})
    chat = {"model": "test/a1", "messages": [{"role": "user", "content": "hi"}]}
    refused = httpx.post(gw.v1 + "/chat/completions", json=chat, headers=gw.auth())
    assert refused.status_code == 404 and "evidence_under_review" in refused.text
    # An admin re-verifies: routable again, and the log says so.
    code, out = cli("catalog", "verify", "alpha", "--evidence", "DPA v2 reviewed", "--config",
                    str(path))
    assert code == 0, out
    assert "evidence_under_review" not in reasons(path, "test/a1")
    assert PolicyLog_of(tmp_path).entries()[-1].change.reason.value == "evidence_reverified"
    code, out = cli("policy-log", "verify", "--config", str(path))
    assert code == 0, out


def test_unreachable_pages_log_nothing(pages: tuple[Pages, str], tmp_path: Path) -> None:
    served, base = pages
    path, _ = config(tmp_path, base, "keep")
    del served.body["/beta"]
    report = watch(path)
    beta = next(p for p in report["providers"] if p["provider"] == "beta")
    assert beta["outcome"] == "unreachable" and beta["pages"][0]["status"] == "http_404"
    assert [e.change.provider for e in PolicyLog_of(tmp_path).entries()] == ["alpha"]


def PolicyLog_of(tmp_path: Path) -> PolicyLog:
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    return PolicyLog(Store(f"sqlite:///{tmp_path}/zdrgate.db").engine)


async def test_the_dispatcher_fetches_only_evidence_origins(pages: tuple[Pages, str]) -> None:
    from zdrgate.upstream import Dispatcher  # noqa: PLC0415
    from zdrgate.upstream.evidence import EvidenceRefused  # noqa: PLC0415

    served, base = pages
    dispatcher = Dispatcher(5, 5)
    await dispatcher.start()
    try:
        status, body = await dispatcher.fetch_evidence(base + "/dpa", frozenset({base}))
        assert status == 200 and b"keep" in body
        for url in (base.replace("127.0.0.1", "localhost") + "/dpa", "file:///etc/passwd",
                    base.replace("http://", "http://user@") + "/dpa"):
            with pytest.raises(EvidenceRefused):
                await dispatcher.fetch_evidence(url, frozenset({base}))
    finally:
        await dispatcher.close()
    assert served.hits == 1
