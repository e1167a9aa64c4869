"""Sign-in and sessions over HTTP, on SQLite with in-memory state and on PostgreSQL
with Redis: passwords, API-key sessions, the cookie's attributes, CSRF, logout,
sign-up modes and invites, and revocation that ends a session at once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from conftest import GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI
from zdrgate.accounts.admin import Admin
from zdrgate.accounts.keys_store import KeySpec

REDIS_URL = "redis://127.0.0.1:6379/0"
EMAIL = "ada@example.org"
PASSWORD = "correct horse battery staple"
CHAT = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def redis_prefix(db_url: str) -> Iterator[str]:
    """A fresh key prefix on the real Redis for the PostgreSQL runs; '' for SQLite."""
    if db_url.startswith("sqlite"):
        yield ""
        return
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"zdrgate-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def signin(
    db_url: str,
    redis_prefix: str,
    tmp_path: Path,
    upstream: FakeOpenAI,
    make_gateway: GatewayFactory,
) -> Any:
    def make(limits: dict[str, Any] | None = None, **accounts: Any) -> RunningGateway:
        storage: dict[str, Any] = {"database_url": db_url, "data_dir": str(tmp_path)}
        if redis_prefix:
            storage |= {"redis_url": REDIS_URL, "redis_key_prefix": redis_prefix}
        extra: dict[str, Any] = {"storage": storage, "accounts": accounts}
        if limits:
            extra["limits"] = limits
        gw = make_gateway({"p": provider(upstream.base_url, [chat_model()])}, extra=extra)
        gw.state.store.migrate()
        return gw

    return make


def admin(gw: RunningGateway) -> Admin:
    return Admin(gw.state.store, "cli")


def with_password(gw: RunningGateway, email: str = EMAIL, role: str = "member") -> str:
    """An account made by an admin, its password set through its invite link."""
    _account, token = admin(gw).create_account(email, role=role)
    reply = httpx.post(
        gw.url + "/auth/signup", json={"email": email, "password": PASSWORD, "invite": token}
    )
    assert reply.status_code == 201, reply.text
    return token


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def browser(gw: RunningGateway) -> httpx.Client:
    """A client that keeps cookies, as a browser does (closed after the test)."""
    client = httpx.Client(base_url=gw.url)
    OPEN.append(client)
    return client


def login(gw: RunningGateway, **body: str) -> httpx.Client:
    client = browser(gw)
    reply = client.post("/auth/login", json=body or {"email": EMAIL, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    client.headers["X-CSRF-Token"] = reply.json()["csrf_token"]
    return client


def test_password_login_opens_a_session_the_v1_api_accepts(signin: Any) -> None:
    gw = signin()
    with_password(gw)
    client = browser(gw)
    reply = client.post("/auth/login", json={"email": EMAIL.upper(), "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["account"]["email"] == EMAIL and body["account"]["role"] == "member"
    assert body["csrf_token"] and body["expires_at"]
    cookie = reply.headers["set-cookie"]
    for part in ("zdr_session=", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert part in cookie
    assert "Secure" not in cookie  # plain http on loopback
    assert client.get("/auth/session").json() == body
    assert client.get("/v1/models").status_code == 200
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 403
    assert client.post("/v1/chat/completions", json=CHAT, headers={"X-CSRF-Token": "x"}).json()[
        "error"
    ]["code"] == "csrf_token_invalid"
    assert client.post("/v1/chat/completions", json=CHAT, headers=csrf).status_code == 200
    with gw.state.store.connect() as conn:
        stored = conn.exec_driver_sql("select password_hash from accounts").scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    # The session is stored hashed: the cookie value is in no table.
    token = client.cookies["zdr_session"]
    with gw.state.store.connect() as conn:
        rows = conn.exec_driver_sql("select id_hash from sessions").fetchall()
    assert rows and token not in str(rows)


def test_logout_ends_the_session_at_once(signin: Any) -> None:
    gw = signin()
    with_password(gw)
    client = login(gw)
    assert client.get("/v1/models").status_code == 200
    out = client.post("/auth/logout")
    assert out.status_code == 204 and "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/auth/session").status_code == 401
    stale = httpx.get(gw.v1 + "/models", cookies={"zdr_session": "gone"})
    assert stale.status_code == 401


def test_wrong_passwords_are_401_then_429_with_retry_after(signin: Any) -> None:
    # 4 a minute: a token comes back every 15 s, far longer than four argon2 checks take
    # even on a loaded machine (with the default 20, one came back every 3 s).
    gw = signin(limits={"failed_auth_per_minute": 4})
    with_password(gw)
    wrong = {"email": EMAIL, "password": "not the password"}
    unknown = {"email": "nobody@example.org", "password": PASSWORD}
    for n in range(4):
        reply = httpx.post(gw.url + "/auth/login", json=wrong if n % 2 else unknown)
        assert reply.status_code == 401
        assert reply.json()["error"]["code"] == "invalid_credentials"
    blocked = httpx.post(gw.url + "/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1


def test_an_api_key_session_acts_as_the_key_and_ends_with_it(signin: Any) -> None:
    gw = signin()
    key, row = admin(gw).create_key(KeySpec(name="web", models=frozenset({"test/chat"})))
    client = login(gw, api_key=key.plaintext)
    assert client.get("/auth/session").json()["account"] is None
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    other = {**CHAT, "model": "test/other"}
    assert client.post("/v1/chat/completions", json=other).status_code in (403, 404)
    assert admin(gw).revoke_key(row.key_id)
    assert client.get("/v1/models").status_code == 401
    bad = httpx.post(gw.url + "/auth/login", json={"api_key": "zdr-abc-wrong"})
    assert bad.status_code == 401


def test_deleting_the_account_ends_its_sessions(signin: Any) -> None:
    gw = signin()
    with_password(gw)
    client = login(gw)
    assert client.get("/auth/session").status_code == 200
    account = client.get("/auth/session").json()["account"]
    admin(gw).delete_account(account["id"])
    assert client.get("/auth/session").status_code == 401
    assert client.get("/v1/models").status_code == 401


def test_sign_up_modes(signin: Any) -> None:
    gw = signin()  # default: invite
    body = {"email": "new@example.org", "password": PASSWORD}
    refused = httpx.post(gw.url + "/auth/signup", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "invite_required"
    token = with_password(gw)
    again = {"email": EMAIL, "password": PASSWORD, "invite": token}
    used = httpx.post(gw.url + "/auth/signup", json=again)
    assert used.status_code == 400 and used.json()["error"]["code"] == "invalid_invite"
    weak = httpx.post(gw.url + "/auth/signup", json={**body, "password": "short"})
    assert weak.status_code in (400, 403)


def test_open_and_closed_sign_up(signin: Any) -> None:
    gw = signin(signup="open")
    body = {"email": "new@example.org", "password": PASSWORD}
    made = httpx.post(gw.url + "/auth/signup", json=body)
    assert made.status_code == 201 and made.json()["account"]["role"] == "member"
    assert "zdr_session=" in made.headers["set-cookie"]
    assert httpx.post(gw.url + "/auth/signup", json=body).status_code == 400  # exists
    closed = signin(signup="closed")
    refused = httpx.post(closed.url + "/auth/signup", json={**body, "email": "x@example.org"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "signup_closed"


def test_the_cookie_is_secure_behind_an_https_public_url(
    db_url: str, tmp_path: Path, upstream: FakeOpenAI, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway(
        {"p": provider(upstream.base_url, [chat_model()])},
        extra={
            "storage": {"database_url": db_url, "data_dir": str(tmp_path)},
            "server": {"public_url": "https://ai.example.org"},
        },
    )
    gw.state.store.migrate()
    with_password(gw)
    reply = httpx.post(gw.url + "/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert "Secure" in reply.headers["set-cookie"]


def test_erasure_leaves_no_session_of_the_accounts_keys(signin: Any) -> None:
    gw = signin()
    account, _token = admin(gw).create_account(EMAIL)
    key, row = admin(gw).create_key(KeySpec(name="web", account_id=account.id))
    client = login(gw, api_key=key.plaintext)
    assert client.get("/v1/models").status_code == 200
    admin(gw).delete_account(account.id)
    assert client.get("/v1/models").status_code == 401
    with gw.state.store.connect() as conn:
        sessions = conn.exec_driver_sql("select * from sessions").fetchall()
    assert row.key_id not in str(sessions) and account.id not in str(sessions)


def test_an_admin_signs_an_account_out_everywhere(signin: Any) -> None:
    gw = signin()
    with_password(gw)
    with_password(gw, "root@example.org", role="admin")
    member = login(gw)
    root = login(gw, email="root@example.org", password=PASSWORD)
    assert member.get("/v1/admin/accounts").status_code == 403  # a member's session
    account_id = member.get("/auth/session").json()["account"]["id"]
    ended = root.post(f"/v1/admin/accounts/{account_id}/sessions/revoke")  # an admin's
    assert ended.status_code == 200 and ended.json()["sessions_revoked"] == 2  # + sign-up
    assert member.get("/v1/models").status_code == 401
    assert root.get("/v1/models").status_code == 200
    log = root.get("/v1/admin/audit").json()["data"]
    assert log[0]["action"] == "accounts.sessions_revoke"
    assert log[0]["actor"].startswith("account:")
