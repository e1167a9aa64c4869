"""The policy transparency log: entries at start, exactly the expected ones for a
change, a chain that breaks visibly when an entry is edited, the route and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import ZDR_POLICY, GatewayFactory, RunningGateway, chat_model, provider
from zdrgate.accounts.schema import policy_log
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.model import Catalog, Model
from zdrgate.cli import main
from zdrgate.policylog import GENESIS, PolicyLog, Why, record_changes, served_records


def providers(url: str, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "alpha": provider(url, [chat_model("a1", "test/a1"), chat_model("a2", "test/a2")], policy),
        "beta": provider(url, [chat_model("b1", "test/b1")]),
    }


def log_of(gw: RunningGateway) -> list[dict[str, Any]]:
    answer = httpx.get(gw.v1 + "/policy-log", headers=gw.auth())
    assert answer.status_code == 200
    rows: list[dict[str, Any]] = answer.json()["data"]
    return rows


def test_start_logs_records_then_exactly_the_change(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:9/v1"
    first = make_gateway(providers(url))
    rows = log_of(first)
    assert [(r["provider"], r["endpoints"], r["reason"]) for r in rows] == [
        ("alpha", ["alpha/a1", "alpha/a2"], "initial"),
        ("beta", ["beta/b1"], "initial"),
    ]
    assert rows[0]["prev_hash"] == GENESIS and rows[1]["prev_hash"] == rows[0]["hash"]
    # A restart with the same config adds nothing.
    assert len(log_of(make_gateway(providers(url)))) == 2
    # A changed record for alpha: one entry naming both endpoints, old and new digests.
    changed = make_gateway(providers(url, {**ZDR_POLICY, "verified_on": "2026-11-20"}))
    rows = log_of(changed)
    assert len(rows) == 3
    entry = rows[2]
    assert (entry["provider"], entry["endpoints"], entry["reason"]) == (
        "alpha", ["alpha/a1", "alpha/a2"], "config_change")
    assert entry["old_digest"] == rows[0]["new_digest"]
    endpoints = httpx.get(changed.v1 + "/models/test/a1/endpoints", headers=changed.auth())
    assert entry["new_digest"] == endpoints.json()["data"]["endpoints"][0]["policy_digest"]


def test_a_catalog_upgrade_produces_exactly_the_expected_entries() -> None:
    packaged = load_packaged_catalog()
    logged = {k: e.policy.digest() for k, e in served_records(packaged).items()}
    assert record_changes(logged, packaged, packaged) == []
    target = "groq"
    upgraded = _with_new_policy(packaged, target)
    changes = record_changes(logged, upgraded, upgraded)
    expected = sorted(k for k, e in served_records(packaged).items() if e.provider.id == target)
    assert [c.provider for c in changes] == [target] * len(changes)
    assert sorted(e for c in changes for e in c.endpoints) == expected
    assert {c.reason for c in changes} == {Why.CATALOG_UPGRADE}
    assert all(c.old_digest != c.new_digest for c in changes)


def _with_new_policy(catalog: Catalog, provider_id: str) -> Catalog:
    def moved(model: Model) -> Model:
        endpoints = tuple(
            dataclasses.replace(e, policy=dataclasses.replace(e.policy, notes="upgraded"))
            if e.provider.id == provider_id else e
            for e in model.endpoints
        )
        return dataclasses.replace(model, endpoints=endpoints)

    return Catalog(catalog.providers, {k: moved(m) for k, m in catalog.models.items()})


def test_an_edited_entry_breaks_the_chain_visibly(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = make_gateway(providers("http://127.0.0.1:9/v1"))
    config = tmp_path / "z.toml"
    config.write_text(
        f'[storage]\ndatabase_url = "sqlite:///{tmp_path}/zdrgate.db"\ndata_dir = "{tmp_path}"\n'
    )
    runner = CliRunner()
    intact = runner.invoke(main, ["policy-log", "verify", "--config", str(config)])
    assert intact.exit_code == 0 and "INTACT, 2 entries" in intact.output
    saved = tmp_path / "log.json"
    saved.write_text(httpx.get(gw.v1 + "/policy-log", headers=gw.auth()).text)
    with gw.state.store.engine.begin() as conn:
        forged = "sha256:" + "f" * 64
        conn.execute(sa.update(policy_log).where(policy_log.c.seq == 1).values(new_digest=forged))
    broken = runner.invoke(main, ["policy-log", "verify", "--config", str(config), "--json"])
    assert broken.exit_code == 1
    problems = json.loads(broken.output)["problems"]
    assert problems == [
        "entry 1: its hash does not match its content (edited)",
        "entry 1: the signed content differs from the entry (edited)",
    ]
    # The saved copy still verifies on its own, against the deployment's JWKS.
    jwks = tmp_path / "jwks.json"
    jwks.write_text(httpx.get(gw.url + "/.well-known/jwks.json").text)
    copy = runner.invoke(main, ["policy-log", "verify", "--file", str(saved), "--jwks", str(jwks)])
    assert copy.exit_code == 0, copy.output
    # Rewriting the hash too breaks the link from the next entry.
    log = PolicyLog(gw.state.store.engine)
    row = log.entries()[0].as_json()
    from zdrgate.policylog.entry import hash_of  # noqa: PLC0415

    body = {k: v for k, v in row.items() if k not in ("hash", "signature")}
    with gw.state.store.engine.begin() as conn:
        conn.execute(
            sa.update(policy_log).where(policy_log.c.seq == 1).values(entry_hash=hash_of(body))
        )
    report = log.verify(gw.state.receipts.ring.all_keys())
    assert "entry 2: does not link to the previous entry's hash" in report.problems


def test_a_receipts_policy_digest_is_in_the_log(
    three_fakes: dict[str, str], make_gateway: GatewayFactory
) -> None:
    from protocol_fakes import three_providers  # noqa: PLC0415

    gw = make_gateway(three_providers(three_fakes))
    chat = {"model": "test/openai", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gw.v1 + "/chat/completions", json=chat, headers=gw.auth())
    digest = response.headers["x-zdr-policy"]
    endpoint = response.headers["x-zdr-endpoint"]
    assert any(r["new_digest"] == digest and endpoint in r["endpoints"] for r in log_of(gw))
    for after in ("x", "9" * 30):
        bad = httpx.get(gw.v1 + f"/policy-log?after={after}", headers=gw.auth())
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "after"
