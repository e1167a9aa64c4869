"""`zdrgate accounts|teams|keys|usage` with click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from test_accounts_store import dump_database, usage_event
from zdrgate.accounts import audit
from zdrgate.accounts.keys import hash_secret
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage import _row
from zdrgate.cli import main

EMAIL = "grace@example.org"


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> tuple[str, Store]:
    config = tmp_path / "z.toml"
    config.write_text(
        f'[server]\npublic_url = "https://ai.example.org"\n[storage]\ndatabase_url = "{db_url}"\n'
    )
    store = Store(db_url)
    yield str(config), store
    store.close()


def run(config: str, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(main, [*args, "--config", config], catch_exceptions=False)
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_account_key_usage_export_delete(cli: tuple[str, Store], tmp_path: Path) -> None:
    config, store = cli
    link = run(config, "accounts", "create", EMAIL, "--team", "research", "--name", "Grace H")
    assert link.startswith("https://ai.example.org/login?invite=")
    token = link.split("invite=", 1)[1].split()[0]
    run(config, "accounts", "create", EMAIL, ok=False)  # one account per email
    accounts = json.loads(run(config, "accounts", "list", "--json"))
    assert [a["email"] for a in accounts] == [EMAIL] and accounts[0]["role"] == "member"

    plaintext = run(
        config,
        "keys",
        "create",
        "--account",
        EMAIL,
        "--team",
        "research",
        "--models",
        "a/b,c/d",
        "--rpm",
        "3",
        "--budget-day",
        "1.5",
        "--region",
        "EU",
        "--name",
        "laptop",
    ).strip()
    key_id = plaintext.split("-")[1]
    shown = json.loads(run(config, "accounts", "show", EMAIL, "--json"))
    assert shown["teams"][0]["name"] == "research"
    (key,) = shown["keys"]
    assert key["id"] == key_id and key["models"] == ["a/b", "c/d"] and key["rpm"] == 3
    assert key["budget_day_usd"] == 1.5 and key["region"] == "eu"
    run(config, "keys", "limits", key_id, "--rpm", "none", "--tpm", "1000")
    (key,) = json.loads(run(config, "keys", "list", "--json"))
    assert key["rpm"] is None and key["tpm"] == 1000 and "secret_hash" not in key
    run(config, "accounts", "limits", EMAIL, "--budget-month", "20")
    run(config, "teams", "limits", "research", "--rpm", "50")
    assert json.loads(run(config, "teams", "list", "--json"))[0]["rpm"] == 50

    account_id = shown["id"]
    store.insert_usage([_row(usage_event(key_id, account_id, images=1, status=500))])
    (day,) = json.loads(run(config, "usage", "--account", EMAIL, "--json"))
    assert day["requests"] == 1 and day["images"] == 1 and day["errors"] == 1
    assert json.loads(run(config, "usage", "--since", "2099-01-01", "--json")) == []
    assert "a/b" in run(config, "usage", "--key", key_id)

    out = tmp_path / "export.json"
    run(config, "accounts", "export", EMAIL, "--out", str(out))
    document = json.loads(out.read_text())
    assert document["usage"][0]["key_id"] == key_id and document["keys"][0]["id"] == key_id
    assert hash_secret(plaintext.split("-", 2)[2]) not in out.read_text()
    assert out.stat().st_mode & 0o777 == 0o600

    rotated = run(config, "keys", "rotate", key_id).strip()
    assert rotated.startswith(f"zdr-{key_id}-") and rotated != plaintext
    run(config, "accounts", "delete", EMAIL, "--yes")
    values = repr(dump_database(store))
    for trace in (EMAIL, "Grace H", account_id, key_id, hash_secret(token)):
        assert trace not in values
    run(config, "accounts", "show", EMAIL, ok=False)
    with store.connect() as conn:
        actions = [e.action for e in audit.entries(conn)]
        assert all(e.actor == "cli" for e in audit.entries(conn))
    assert actions[0] == "accounts.delete" and "keys.rotate" in actions
    assert "accounts.export" in actions and "teams.create" in actions


def test_delete_asks_first_and_revoke_needs_an_active_key(cli: tuple[str, Store]) -> None:
    config, store = cli
    run(config, "accounts", "create", EMAIL, "--admin")
    result = CliRunner().invoke(
        main, ["accounts", "delete", EMAIL, "--config", config], input="n\n"
    )
    assert result.exit_code == 1 and "Aborted" in result.output
    assert json.loads(run(config, "accounts", "list", "--json"))[0]["role"] == "admin"
    key_id = run(config, "keys", "create", "--admin", "--account", EMAIL).split("-")[1]
    assert "revoked" in run(config, "keys", "revoke", key_id)
    assert "no active key" in run(config, "keys", "revoke", key_id, ok=False)
    assert "No such key" in run(config, "keys", "rotate", "abc", ok=False)
    assert "not a number" in run(config, "keys", "limits", key_id, "--rpm", "x", ok=False)
    with store.connect() as conn:
        assert conn.execute(sa.text("select count(*) from admin_audit")).scalar_one() == 3


def test_member_cannot_own_an_admin_key(cli: tuple[str, Store]) -> None:
    config, _ = cli
    run(config, "accounts", "create", EMAIL)
    assert "admin account" in run(config, "keys", "create", "--admin", "--account", EMAIL, ok=False)


def test_teams_and_key_expiry(cli: tuple[str, Store]) -> None:
    config, store = cli
    run(config, "teams", "create", "ops")
    run(config, "teams", "create", "ops", ok=False)
    run(config, "accounts", "create", EMAIL)
    assert run(config, "teams", "add", "ops", EMAIL).strip() == "added"
    assert run(config, "teams", "add", "ops", EMAIL).strip() == "unchanged"
    key_id = run(config, "keys", "create", "--account", EMAIL, "--team", "ops").split("-")[1]
    (team,) = json.loads(run(config, "teams", "list", "--json"))
    assert len(team["members"]) == 1
    assert run(config, "teams", "remove", "ops", EMAIL).strip() == "removed"
    (key,) = json.loads(run(config, "keys", "list", "--json"))
    assert key["team_id"] is None  # the key no longer spends for the team
    run(config, "teams", "delete", "ops")
    assert json.loads(run(config, "teams", "list", "--json")) == []

    run(config, "keys", "expire", key_id, "2030-01-02")
    (key,) = json.loads(run(config, "keys", "list", "--json"))
    assert key["expires_at"].startswith("2030-01-02T00:00:00")
    run(config, "keys", "expire", key_id, "now")
    row = store.get_key(key_id)
    assert row is not None and not row.usable(dt.datetime.now(dt.UTC))
    run(config, "keys", "expire", key_id, "never")
    assert json.loads(run(config, "keys", "list", "--json"))[0]["expires_at"] is None
    assert "YYYY-MM-DD" in run(config, "keys", "expire", key_id, "soon", ok=False)
