"""The admin API, /v1/usage and self-service export and deletion over HTTP, on SQLite
with the counters in memory and on PostgreSQL with them in Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import REDIS_URL, GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI
from test_accounts_store import dump_database
from zdrgate.accounts.keys import hash_secret
from zdrgate.audit.places import scan_database, scan_redis
from zdrgate.audit.scan import encodings

EMAIL = "linus@example.org"


@pytest.fixture
def gw(
    db_url: str,
    tmp_path: Path,
    upstream: FakeOpenAI,
    make_gateway: GatewayFactory,
    request: pytest.FixtureRequest,
) -> Any:
    storage = {"database_url": db_url, "data_dir": str(tmp_path)}
    if db_url.startswith("postgresql"):  # the scaled mode: PostgreSQL and Redis together
        prefix = request.getfixturevalue("redis_prefix")
        storage.update(redis_url=REDIS_URL, redis_key_prefix=prefix)
    return make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])},
        extra={"storage": storage, "server": {"public_url": "https://ai.example.org"}},
    )


def no_canary_stored(gw: RunningGateway, canary: str) -> None:
    """``zdrgate audit``'s scans of the database and, when used, Redis: no hit."""
    needles = encodings(canary)
    assert scan_database(gw.state.store.engine, needles)[1] == []
    if gw.state.settings.storage.redis_url:
        assert scan_redis(REDIS_URL, needles)[1] == []


def call(
    gw: RunningGateway, method: str, path: str, key: str | None = None, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else gw.auth()
    return httpx.request(method, gw.v1 + path, headers=headers, timeout=10, **kw)


def chat(gw: RunningGateway, key: str, content: str = "hello") -> httpx.Response:
    body = {"model": "test/chat", "messages": [{"role": "user", "content": content}]}
    return call(gw, "POST", "/chat/completions", key, json=body)


def wait_for_usage(gw: RunningGateway, key_id: str) -> None:
    import time  # noqa: PLC0415

    for _ in range(100):
        if gw.state.store.usage_rows(key_id):
            return
        time.sleep(0.05)
    raise AssertionError("no usage row written")


def test_admin_manages_accounts_teams_and_keys(gw: RunningGateway) -> None:
    made = call(gw, "POST", "/admin/accounts", json={"email": EMAIL, "display_name": "Linus"})
    assert made.status_code == 201, made.text
    assert made.json()["invite_url"].startswith("https://ai.example.org/login?invite=")
    account_id = made.json()["account"]["id"]
    assert (
        call(gw, "POST", "/admin/accounts", json={"email": EMAIL}).json()["error"]["code"]
        == "account_exists"
    )
    team = call(gw, "POST", "/admin/teams", json={"name": "kernel", "budget_day_usd": 9}).json()
    assert team["budget_day_usd"] == 9
    assert call(gw, "PUT", f"/admin/teams/{team['id']}/members/{account_id}").json()["changed"]

    body = {
        "account": EMAIL,
        "team": "kernel",
        "models": ["test/chat"],
        "rpm": 3,
        "budget_month_usd": 10,
        "region": "EU",
        "provider": {"sort": "price"},
    }
    key = call(gw, "POST", "/admin/keys", json=body)
    assert key.status_code == 201, key.text
    created = key.json()
    assert created["key"].startswith(f"zdr-{created['id']}-") and created["region"] == "eu"
    assert created["provider"] == {"sort": "price"} and created["team_id"] == team["id"]
    patched = call(gw, "PATCH", f"/admin/keys/{created['id']}", json={"rpm": None, "tpm": 100})
    assert patched.json()["rpm"] is None and patched.json()["tpm"] == 100
    unknown_model = call(gw, "POST", "/admin/keys", json={"models": ["no/such"]})
    assert unknown_model.status_code == 400 and unknown_model.json()["error"]["param"] == "models"
    extra = call(gw, "PATCH", f"/admin/keys/{created['id']}", json={"secret_hash": "x"})
    assert extra.json()["error"]["code"] == "unknown_parameter"

    detail = call(gw, "GET", f"/admin/accounts/{EMAIL}").json()
    assert detail["teams"] == [{"id": team["id"], "name": "kernel"}]
    assert [k["id"] for k in detail["keys"]] == [created["id"]]
    assert "secret_hash" not in str(detail)
    listed = call(gw, "GET", "/admin/keys", params={"account": account_id}).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    rotated = call(gw, "POST", f"/admin/keys/{created['id']}/rotate").json()["key"]
    assert chat(gw, created["key"]).status_code == 401
    served = chat(gw, rotated)  # authenticated, but the key is limited to the EU...
    assert served.status_code == 404 and "outside_region" in served.json()["error"]["message"]
    assert call(gw, "POST", f"/admin/keys/{created['id']}/revoke").json()["changed"]
    assert chat(gw, rotated).status_code == 401

    log = call(gw, "GET", "/admin/audit").json()["data"]
    assert [e["action"] for e in log][:4] == [
        "keys.revoke",
        "keys.rotate",
        "keys.update",
        "keys.create",
    ]
    assert {e["actor"] for e in log} == {"master"}
    assert EMAIL not in str(log) and "Linus" not in str(log)
    about = call(gw, "GET", "/admin/audit", params={"about": f"key:{created['id']}"}).json()
    assert len(about["data"]) == 4


def test_members_get_403_from_the_admin_api(gw: RunningGateway) -> None:
    call(gw, "POST", "/admin/accounts", json={"email": EMAIL})
    member_key = call(gw, "POST", "/admin/keys", json={"account": EMAIL}).json()["key"]
    for method, path in (
        ("GET", "/admin/accounts"),
        ("POST", "/admin/keys"),
        ("GET", "/admin/audit"),
        ("DELETE", f"/admin/accounts/{EMAIL}"),
    ):
        response = call(gw, method, path, member_key, json={})
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "permission_denied"
    assert call(gw, "GET", "/admin/accounts", "zdr-nope-nope").status_code == 401
    assert call(gw, "GET", "/admin/usage", params={"since": "yesterday"}).status_code == 400


def test_own_usage_export_and_deletion(gw: RunningGateway) -> None:
    made = call(gw, "POST", "/admin/accounts", json={"email": EMAIL, "display_name": "Linus"})
    account_id = made.json()["account"]["id"]
    created = call(gw, "POST", "/admin/keys", json={"account": EMAIL}).json()
    key, key_id = created["key"], created["id"]
    assert chat(gw, key, "export-canary-7731").status_code == 200
    wait_for_usage(gw, key_id)

    usage = call(gw, "GET", "/usage", key).json()["data"]
    assert usage[0]["model"] == "test/chat" and usage[0]["requests"] == 1
    assert usage[0]["prompt_tokens"] > 0 and usage[0]["errors"] == 0
    assert call(gw, "GET", "/usage", key, params={"since": "2099-01-01"}).json()["data"] == []
    admin_view = call(gw, "GET", "/admin/usage", params={"account": EMAIL}).json()["data"]
    assert admin_view == usage

    export = call(gw, "GET", "/account/export", key)
    assert export.status_code == 200
    document = export.json()
    assert document["account"]["email"] == EMAIL and document["usage"][0]["key_id"] == key_id
    assert hash_secret(key.split("-", 2)[2]) not in export.text
    assert "export-canary-7731" not in export.text
    assert call(gw, "GET", "/account/export").status_code == 403  # the master key: no account

    assert call(gw, "DELETE", "/account", key).json()["deleted"] is True
    assert chat(gw, key).status_code == 401
    assert call(gw, "GET", "/usage", key).status_code == 401
    values = repr(dump_database(gw.state.store))
    for trace in (account_id, EMAIL, "Linus", key_id):
        assert trace not in values, trace
    assert len(gw.state.store.usage_rows()) == 1  # kept for the operator, unlinked
    log = call(gw, "GET", "/admin/audit")
    assert log.json()["data"][0]["action"] == "accounts.delete"
    assert log.json()["data"][0]["actor"].startswith("gone-")
    assert "export-canary-7731" not in log.text
    no_canary_stored(gw, "export-canary-7731")


def test_admin_deletes_an_account(gw: RunningGateway) -> None:
    made = call(gw, "POST", "/admin/accounts", json={"email": EMAIL}).json()
    key = call(gw, "POST", "/admin/keys", json={"account": EMAIL}).json()["key"]
    assert chat(gw, key).status_code == 200
    export = call(gw, "GET", f"/admin/accounts/{made['account']['id']}/export").json()
    assert export["account"]["id"] == made["account"]["id"]
    assert call(gw, "DELETE", f"/admin/accounts/{EMAIL}").json()["deleted"] is True
    assert chat(gw, key).status_code == 401
    assert call(gw, "GET", f"/admin/accounts/{EMAIL}").status_code == 404


def test_people_manage_their_own_keys(gw: RunningGateway) -> None:
    call(gw, "POST", "/admin/accounts", json={"email": EMAIL, "display_name": "Linus"})
    call(gw, "POST", "/admin/accounts", json={"email": "other@example.org"})
    mine = call(gw, "POST", "/admin/keys", json={"account": EMAIL}).json()["key"]
    theirs = call(gw, "POST", "/admin/keys", json={"account": "other@example.org"}).json()
    profile = call(gw, "GET", "/account", mine).json()
    assert profile["email"] == EMAIL and profile["role"] == "member"

    made = call(gw, "POST", "/account/keys", mine, json={"name": "ci", "rpm": 5})
    assert made.status_code == 201, made.text
    assert made.json()["rpm"] == 5 and not made.json()["is_admin"]
    sneaky = call(gw, "POST", "/account/keys", mine, json={"is_admin": True})
    assert sneaky.json()["error"]["code"] == "unknown_parameter"
    listed = call(gw, "GET", "/account/keys", mine).json()["data"]
    assert len(listed) == 2 and "secret_hash" not in str(listed)

    new = made.json()
    rotated = call(gw, "POST", f"/account/keys/{new['id']}/rotate", mine).json()["key"]
    assert chat(gw, new["key"]).status_code == 401 and chat(gw, rotated).status_code == 200
    assert call(gw, "POST", f"/account/keys/{new['id']}/revoke", mine).json()["changed"]
    assert chat(gw, rotated).status_code == 401
    for action in ("rotate", "revoke"):  # another person's key is not found
        other = call(gw, "POST", f"/account/keys/{theirs['id']}/{action}", mine)
        assert other.status_code == 404
    assert chat(gw, theirs["key"]).status_code == 200
    assert call(gw, "GET", "/account/keys").status_code == 403  # the master key: no account


def test_a_database_outage_is_a_503(
    tmp_path: Path, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    (tmp_path / "db").mkdir()
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model("ok")])},
        extra={
            "storage": {"database_url": f"sqlite:///{tmp_path}/db/z.db", "data_dir": str(tmp_path)}
        },
    )
    assert call(gw, "GET", "/admin/accounts").status_code == 200
    gw.state.store.engine.dispose()
    (tmp_path / "db").rename(tmp_path / "gone")  # new connections cannot open the file
    for method, path in (("GET", "/admin/accounts"), ("POST", "/admin/teams")):
        response = call(gw, method, path, json={"name": "t"})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "service_unavailable"
        assert "z.db" not in response.text
