"""Rate limits and budgets through the HTTP API: every model-serving route passes the
limiter before any upstream call, on the in-memory counters and on the real Redis
(two gateway apps sharing it).

The caller's Principal is fixed by a stand-in authenticator (the limits come from key,
account and team rows in the accounts store; these tests pin the enforcement).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import REDIS_URL, TODAY, RunningGateway, UvicornThread, chat_model, provider
from databases import postgres_schema_url
from fake_media import FakeMedia, start_fake_media
from fake_openai import FakeOpenAI
from media_setup import embedding_model, image_model, media_provider
from test_deny_all import ROUTE_BODIES, STREAMING
from zdrgate.accounts.auth import Authenticator, KeyGrant
from zdrgate.accounts.keys import Limits, Principal, hash_secret
from zdrgate.accounts.store import Store
from zdrgate.catalog.model import Catalog
from zdrgate.config import parse_settings
from zdrgate.server.app import app_for, build_state

pytestmark = pytest.mark.services


KEY_ID, SECRET = "0123456789ab", "limits-e2e-secret"


def fixed_auth(auth: Authenticator, principal: Principal) -> Authenticator:
    """The real authenticator, with one key whose row says ``principal`` (the limits
    come from key, account and team rows; these tests pin the enforcement)."""
    grant = KeyGrant(hash_secret(SECRET), dataclasses.replace(principal, key_id=KEY_ID))
    return Authenticator(
        lambda key_id: grant if key_id == KEY_ID else None, None, auth.epoch, auth.failures
    )


@pytest.fixture
def start(tmp_path: Any) -> Iterator[Any]:
    threads: list[UvicornThread] = []

    def run(
        providers: dict[str, Any],
        principal: Principal,
        storage: dict[str, Any] | None = None,
        store: Store | None = None,
    ) -> RunningGateway:
        raw = {
            "storage": {
                "database_url": f"sqlite:///{tmp_path}/zdrgate.db",
                "data_dir": str(tmp_path),
                **(storage or {}),
            },
            "providers": providers,
        }
        state = build_state(
            parse_settings(raw),
            catalog=Catalog({}, {}),
            environ={},
            today=lambda: TODAY,
            rng=random.Random(7),
            store=store,
        )
        state = dataclasses.replace(state, auth=fixed_auth(state.auth, principal))
        thread = UvicornThread(app_for(state))
        threads.append(thread)
        key = f"zdr-{KEY_ID}-{SECRET}"
        return RunningGateway(f"http://127.0.0.1:{thread.start()}", state, key=key)

    yield run
    for thread in threads:
        thread.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A random schema of the machine's PostgreSQL (the usage rows budgets start from)."""
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def media() -> Iterator[FakeMedia]:
    fake, server = start_fake_media()
    yield fake
    server.stop()


def key(**limits: Any) -> Principal:
    return Principal("k1", False, key_limits=Limits(**limits))


CHAT = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


def test_every_model_serving_route_refuses_a_spent_budget_before_sending(
    media: FakeMedia, start: Any
) -> None:
    models = [chat_model("chat", "test/chat"), image_model("img"), embedding_model()]
    gw = start({"zdr": media_provider(media.openai_url, models)}, key(budget_day_usd=0.0))
    model_for = {"/v1/images/generations": "test/image", "/v1/embeddings": "test/embed"}
    probed = 0
    for (method, path), body_for in ROUTE_BODIES.items():
        if method != "POST" or body_for is None:
            continue
        for stream in (False, True) if (method, path) in STREAMING else (False,):
            body = body_for(model_for.get(path, "test/chat"))
            if "model" not in body:
                continue  # not a model-serving route (e.g. receipt verification)
            if stream:
                body["stream"] = True
            reply = httpx.post(gw.url + path, json=body, headers=gw.auth(), timeout=10)
            assert reply.status_code == 402, (path, stream, reply.text)
            error = reply.json()["error"]
            assert error["code"] == "budget_exceeded", (path, error)
            assert "daily budget of this key" in error["message"]
            probed += 1
    assert probed == 6 and media.requests == []


def test_the_fourth_request_within_a_minute_gets_429_with_retry_after(
    upstream: FakeOpenAI, start: Any
) -> None:
    gw = start({"zdr": provider(upstream.base_url, [chat_model()])}, key(rpm=3, tpm=10_000))
    for left in ("2", "1", "0"):
        ok = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth())
        assert ok.status_code == 200
        assert ok.headers["x-ratelimit-limit-requests"] == "3"
        assert ok.headers["x-ratelimit-remaining-requests"] == left
        assert ok.headers["x-ratelimit-limit-tokens"] == "10000"
        assert ok.headers["x-zdr-endpoint"]
    refused = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth())
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.headers["x-ratelimit-reset-requests"].endswith("s")
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert upstream.count() == 3


def test_a_stream_carries_the_headers_and_settles_its_tokens(
    upstream: FakeOpenAI, start: Any
) -> None:
    gw = start({"zdr": provider(upstream.base_url, [chat_model()])}, key(rpm=10, tpm=1000))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", gw.v1 + "/chat/completions", json=body, headers=gw.auth()) as r:
        assert r.status_code == 200
        assert r.headers["x-ratelimit-remaining-requests"] == "9"
        reserved = 1000 - int(r.headers["x-ratelimit-remaining-tokens"])
        assert reserved >= 20
        r.read()
    raw = json.dumps(CHAT).encode()
    headers = {**gw.auth(), "content-type": "application/json"}
    after = httpx.post(gw.v1 + "/chat/completions", content=raw, headers=headers)
    # The stream's 18 actual tokens replaced its reservation; this one reserves its own
    # (body/4 + 1 + max_tokens); the bucket refills 1000/60 tokens a second meanwhile.
    second = len(raw) // 4 + 1 + 20
    expected = 1000 - 18 - second
    assert expected <= int(after.headers["x-ratelimit-remaining-tokens"]) <= expected + 16
    assert 1000 - reserved - second + 16 < expected  # what it would be without settling


def test_a_spent_daily_budget_gets_402_before_the_upstream_call(
    upstream: FakeOpenAI, start: Any
) -> None:
    # 18 tokens at $1 per million: the first request spends more than the budget.
    gw = start({"zdr": provider(upstream.base_url, [chat_model()])}, key(budget_day_usd=1e-5))
    assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth()).is_success
    refused = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth())
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and "daily budget of this key" in error["message"]
    assert upstream.count() == 1


async def _burst(urls: list[str], n: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30) as client:
        replies = await asyncio.gather(
            *(
                client.post(
                    urls[i % len(urls)],
                    json=CHAT,
                    headers={"authorization": f"Bearer zdr-{KEY_ID}-{SECRET}"},
                )
                for i in range(n)
            )
        )
    return [r.status_code for r in replies]


ACTUAL = 18e-6  # the fake's 11 + 7 tokens at $1 per million
MAX_COST = 60e-6  # prompt estimate (~40 tokens of body) + max_tokens 20, at $1 per million


@pytest.mark.parametrize(
    "backend", ["memory", "redis", "two apps on redis", "two apps on postgres and redis"]
)
def test_100_parallel_requests_overspend_a_budget_by_at_most_one(
    backend: str, upstream: FakeOpenAI, start: Any, request: pytest.FixtureRequest
) -> None:
    """A budget with room for 10 requests; 100 arrive at once."""
    budget = 10 * ACTUAL
    storage = {}
    if backend != "memory":
        prefix = request.getfixturevalue("redis_prefix")
        storage = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    if "postgres" in backend:
        storage["database_url"] = request.getfixturevalue("pg_url")
    providers = {"zdr": provider(upstream.base_url, [chat_model()])}
    apps = [start(providers, key(budget_day_usd=budget), storage)]
    if backend.startswith("two apps"):
        apps.append(start(providers, key(budget_day_usd=budget), storage))
    statuses = asyncio.run(_burst([gw.v1 + "/chat/completions" for gw in apps], 100))
    served = statuses.count(200)
    assert statuses.count(402) == 100 - served
    assert served >= 3 and served * ACTUAL <= budget + MAX_COST
    assert upstream.count() == served


LONG_ACTUAL = 8011e-6  # the fake's "long" answer: 11 + 8,000 tokens at $1 per million
LONG_CONTEXT = 10_000  # the endpoint states its context window, not its maximum output


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_100_parallel_requests_without_max_tokens_overspend_by_at_most_one(
    backend: str, upstream: FakeOpenAI, start: Any, request: pytest.FixtureRequest
) -> None:
    """Without ``max_tokens`` a request reserves all the output its endpoint can give
    (here its context window): more than a 4,096-token guess, which the answers exceed."""
    budget = 10 * LONG_ACTUAL
    storage = {}
    if backend == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        storage = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    model = {**chat_model("long"), "context_length": LONG_CONTEXT}
    gw = start({"zdr": provider(upstream.base_url, [model])}, key(budget_day_usd=budget), storage)
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            replies = await asyncio.gather(
                *(
                    client.post(gw.v1 + "/chat/completions", json=body, headers=gw.auth())
                    for _ in range(100)
                )
            )
        return [r.status_code for r in replies]

    statuses = asyncio.run(burst())
    served = statuses.count(200)
    one_request_max = (len(json.dumps(body)) // 4 + 1 + LONG_CONTEXT) * 1e-6
    assert statuses.count(402) == 100 - served
    assert served >= 3 and served * LONG_ACTUAL <= budget + one_request_max
    assert upstream.count() == served


def test_an_unreachable_redis_gives_503_and_sends_nothing(upstream: FakeOpenAI, start: Any) -> None:
    storage = {"redis_url": "redis://127.0.0.1:9/0"}
    gw = start({"zdr": provider(upstream.base_url, [chat_model()])}, key(rpm=100), storage)
    reply = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth(), timeout=10)
    assert reply.status_code == 503
    # The revocation epoch (authentication) reads the same Redis first; the limiter's
    # own refusal is tested on its own in tests/unit/test_limits.py.
    assert reply.json()["error"]["code"] in ("service_unavailable", "limit_store_unavailable")
    assert upstream.count() == 0


class RedisProxy:
    """A TCP relay to the machine's Redis on a port of its own, that can be cut."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(("127.0.0.1", 6379))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_redis_lost_after_start_gives_503_and_sends_nothing(
    upstream: FakeOpenAI, start: Any, redis_prefix: str
) -> None:
    """Model-serving requests are identified under the last revocation epoch seen, and
    the admission reads it: with Redis gone, the admission fails, so the request does."""
    providers = {"zdr": provider(upstream.base_url, [chat_model()])}
    for principal in (key(rpm=100), key()):  # with limits, and with none
        proxy = RedisProxy()
        url = f"redis://127.0.0.1:{proxy.port}/0"
        gw = start(providers, principal, {"redis_url": url, "redis_key_prefix": redis_prefix})
        assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth()).is_success
        proxy.cut()
        reply = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth(), timeout=10)
        assert reply.status_code == 503, reply.text
        assert reply.json()["error"]["code"] == "limit_store_unavailable"
    assert upstream.count() == 2


class FlakyStore(Store):
    """A real store whose database can be made to go away for usage inserts."""

    down = False

    def insert_usage(self, rows: Any) -> None:
        if self.down:
            raise sa.exc.OperationalError("insert into usage", {}, ConnectionError("away"))
        super().insert_usage(rows)


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_database_outage_refuses_requests_and_loses_no_served_row(
    upstream: FakeOpenAI, start: Any, tmp_path: Any
) -> None:
    store = FlakyStore(f"sqlite:///{tmp_path}/flaky.db")
    gw = start({"zdr": provider(upstream.base_url, [chat_model()])}, key(), store=store)
    store.down = True
    assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth()).is_success
    _wait(lambda: gw.state.gateway.usage.backlogged)  # its row could not be written
    refused = httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth())
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "usage_store_unavailable"
    assert upstream.count() == 1
    store.down = False
    _wait(lambda: not gw.state.gateway.usage.backlogged)
    assert httpx.post(gw.v1 + "/chat/completions", json=CHAT, headers=gw.auth()).is_success
    _wait(lambda: len(store.usage_rows()) == 2)  # both served requests, none lost
    assert [r["status"] for r in store.usage_rows()] == [200, 200]
