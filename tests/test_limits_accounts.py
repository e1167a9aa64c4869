"""Limits set by the operator (CLI and admin API) enforced on requests, end to end:
`zdrgate keys create --rpm 3` makes the fourth request within a minute a 429 with
Retry-After; `--budget-day` is checked before the upstream call (402); an account's and
a team's limits are shared by their keys. On SQLite and PostgreSQL, with the counters in
memory and in Redis."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from conftest import REDIS_URL, GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.cli import main

pytestmark = pytest.mark.services

CHAT = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> dict[str, str]:
    """The gateway's storage: the database, and the counters in memory or in Redis."""
    storage = {"database_url": db_url, "data_dir": str(tmp_path)}
    if request.param == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        storage.update(redis_url=REDIS_URL, redis_key_prefix=prefix)
    return storage


@pytest.fixture
def gw(storage: dict[str, str], upstream: FakeOpenAI, make_gateway: GatewayFactory) -> Any:
    providers = {"p": provider(upstream.base_url, [chat_model("ok")])}
    return make_gateway(providers, extra={"storage": storage})


def cli(db_url: str, tmp_path: Path, *args: str) -> str:
    config = tmp_path / "cli.toml"
    config.write_text(f'[storage]\ndatabase_url = "{db_url}"\n')
    result = CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def chat(gw: RunningGateway, key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=headers, timeout=10)


def admin(gw: RunningGateway, method: str, path: str, **kw: Any) -> Any:
    reply = httpx.request(method, gw.v1 + path, headers=gw.auth(), timeout=10, **kw)
    assert reply.is_success, reply.text
    return reply.json()


def test_keys_create_rpm_3_refuses_the_fourth_request(
    gw: RunningGateway, db_url: str, tmp_path: Path, upstream: FakeOpenAI
) -> None:
    key = cli(db_url, tmp_path, "keys", "create", "--name", "ci", "--rpm", "3")
    assert [chat(gw, key).status_code for _ in range(3)] == [200, 200, 200]
    refused = chat(gw, key)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert upstream.count() == 3


def test_keys_create_budget_day_is_checked_before_the_upstream_call(
    gw: RunningGateway, db_url: str, tmp_path: Path, upstream: FakeOpenAI
) -> None:
    # The fake answers with 18 tokens at $1 per million: one request spends the budget.
    key = cli(db_url, tmp_path, "keys", "create", "--budget-day", "0.00001")
    assert chat(gw, key).status_code == 200
    refused = chat(gw, key)
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and "daily budget of this key" in error["message"]
    assert upstream.count() == 1


def test_an_accounts_limit_is_shared_by_its_keys(gw: RunningGateway) -> None:
    made = admin(gw, "POST", "/admin/accounts", json={"email": "ada@example.org"})
    admin(gw, "PATCH", f"/admin/accounts/{made['account']['id']}", json={"rpm": 3})
    first = admin(gw, "POST", "/admin/keys", json={"account": "ada@example.org"})["key"]
    second = admin(gw, "POST", "/admin/keys", json={"account": "ada@example.org"})["key"]
    assert [chat(gw, k).status_code for k in (first, second, first)] == [200, 200, 200]
    refused = chat(gw, second)
    assert refused.status_code == 429 and "this account" in refused.json()["error"]["message"]


def test_a_teams_budget_refuses_its_keys_with_402(gw: RunningGateway) -> None:
    team = admin(gw, "POST", "/admin/teams", json={"name": "lab", "budget_month_usd": 0.00001})
    key = admin(gw, "POST", "/admin/keys", json={"team": team["id"]})["key"]
    assert chat(gw, key).status_code == 200
    refused = chat(gw, key)
    assert refused.status_code == 402
    assert "monthly budget of this team" in refused.json()["error"]["message"]


def test_a_restarted_gateway_remembers_what_a_budget_spent(
    gw: RunningGateway,
    db_url: str,
    tmp_path: Path,
    upstream: FakeOpenAI,
    make_gateway: GatewayFactory,
) -> None:
    """In-memory counters start from the usage rows: a restart does not refill a budget."""
    key = cli(db_url, tmp_path, "keys", "create", "--budget-day", "0.00001")
    assert chat(gw, key).status_code == 200
    key_id = key.split("-")[1]
    deadline = time.monotonic() + 10
    while not gw.state.store.usage_rows(key_id) and time.monotonic() < deadline:
        time.sleep(0.05)  # the recorder writes rows in batches
    fresh = {"database_url": db_url, "data_dir": str(tmp_path)}  # memory: nothing carried over
    again = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])}, extra={"storage": fresh}
    )
    refused = chat(again, key)
    assert refused.status_code == 402, refused.text
    assert upstream.count() == 1
