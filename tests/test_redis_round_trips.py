"""With Redis, a model-serving request costs one round trip: the limiter's script checks
every rate limit and budget of the key, its account and its team, and reads the
revocation epoch, so authentication sends nothing of its own. Counted on the wire,
against the machine's Redis: every command the gateway's Redis clients send that names
one of its counters or its epoch (they all carry the ``{c}`` hash tag, after the random
key prefix of the test), attributed to the request that sent it (the background flush
of settlements is not a request's).

The same capture shows that every key of a script hashes to one Redis Cluster slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from redis.asyncio.connection import AbstractConnection
from redis.crc import key_slot

from conftest import REDIS_URL, GatewayFactory, RunningGateway, chat_model, provider
from fake_openai import FakeOpenAI

pytestmark = pytest.mark.services

FLUSH_TASK = "RedisCounters._run"
LIMITS = {"rpm": 1000, "tpm": 1_000_000, "budget_day_usd": 100.0, "budget_month_usd": 1000.0}


def commands(data: bytes) -> list[list[bytes]]:
    """The RESP arrays of bulk strings in one write (one command, or a pipeline's)."""
    found, i = [], 0
    while i < len(data):
        assert data[i : i + 1] == b"*", data[i : i + 20]
        end = data.index(b"\r\n", i)
        count, i, parts = int(data[i + 1 : end]), end + 2, []
        for _ in range(count):
            end = data.index(b"\r\n", i)
            length, i = int(data[i + 1 : end]), end + 2
            parts.append(data[i : i + length])
            i += length + 2
        found.append(parts)
    return found


@dataclass
class Wire:
    """Writes to Redis that name a key containing ``marker``, by who sent them."""

    marker: bytes
    by_requests: list[list[list[bytes]]] = field(default_factory=list)
    by_flush: int = 0

    def reset(self) -> None:
        self.by_requests.clear()
        self.by_flush = 0

    def scripts(self) -> list[list[bytes]]:
        return [c for write in self.by_requests for c in write if c[0].upper() == b"EVALSHA"]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch, redis_prefix: str) -> Wire:
    seen = Wire((redis_prefix + "{c}").encode())
    original = AbstractConnection.send_packed_command

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        if isinstance(command, str):
            data = command.encode()
        elif isinstance(command, bytes):
            data = command
        else:
            data = b"".join(command)
        if seen.marker in data:
            task = asyncio.current_task()
            coro = task.get_coro() if task is not None else None
            if getattr(coro, "__qualname__", "") == FLUSH_TASK:
                seen.by_flush += 1
            else:
                seen.by_requests.append(commands(data))
        await original(self, data, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return seen


@dataclass
class Setup:
    gw: RunningGateway
    limited: str  # limits on the key, its account and its team
    bare: str  # no limits anywhere
    ids: dict[str, str]


def admin(gw: RunningGateway, method: str, path: str, body: dict[str, Any]) -> Any:
    reply = httpx.request(method, gw.v1 + path, json=body, headers=gw.auth(), timeout=10)
    assert reply.is_success, reply.text
    return reply.json()


@pytest.fixture
def setup(
    upstream: FakeOpenAI, make_gateway: GatewayFactory, redis_prefix: str, wire: Wire
) -> Iterator[Setup]:
    storage = {"redis_url": REDIS_URL, "redis_key_prefix": redis_prefix}
    providers = {"p": provider(upstream.base_url, [chat_model("ok")])}
    gw = make_gateway(providers, extra={"storage": storage})
    team = admin(gw, "POST", "/admin/teams", {"name": "lab", **LIMITS})
    made = admin(gw, "POST", "/admin/accounts", {"email": "ada@example.org", "team": "lab"})
    account = made["account"]["id"]
    admin(gw, "PATCH", f"/admin/accounts/{account}", LIMITS)
    body = {"account": account, "team": team["id"], **LIMITS}
    limited = admin(gw, "POST", "/admin/keys", body)["key"]
    bare = admin(gw, "POST", "/admin/keys", {"name": "bare"})["key"]
    ids = {"key": limited.split("-")[1], "account": account, "team": team["id"]}
    yield Setup(gw, limited, bare, ids)


CHAT = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def chat(gw: RunningGateway, key: str, stream: bool = False) -> None:
    body = {**CHAT, "stream": True} if stream else CHAT
    headers = {"Authorization": f"Bearer {key}"}
    reply = httpx.post(gw.v1 + "/chat/completions", json=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_request_costs_one_round_trip_with_or_without_limits(setup: Setup, wire: Wire) -> None:
    for key in (setup.limited, setup.bare):
        chat(setup.gw, key)  # loads the key and the script, seeds the budgets
        time.sleep(0.4)  # the background flush sends what is queued
        wire.reset()
        for stream in (False, True, False, True):
            chat(setup.gw, key, stream)
        assert len(wire.by_requests) == 4, (key, wire.by_requests)
        assert all(len(write) == 1 for write in wire.by_requests)  # no pipeline either
        assert len(wire.scripts()) == 4  # each the admission script, nothing else


def test_a_route_that_admits_nothing_reads_the_epoch_once(setup: Setup, wire: Wire) -> None:
    headers = {"Authorization": f"Bearer {setup.bare}"}
    assert httpx.get(setup.gw.v1 + "/usage", headers=headers).status_code == 200
    wire.reset()
    assert httpx.get(setup.gw.v1 + "/usage", headers=headers).status_code == 200
    assert [[c[0].upper() for c in w] for w in wire.by_requests] == [[b"GET"]]


def test_every_key_of_a_requests_script_is_in_one_cluster_slot(setup: Setup, wire: Wire) -> None:
    chat(setup.gw, setup.limited)
    chat(setup.gw, setup.limited)  # carries the first one's settlements
    scripts = wire.scripts()
    assert scripts
    every_key: set[bytes] = set()
    for script in scripts:
        keys = script[3 : 3 + int(script[2])]
        assert len({key_slot(k) for k in keys}) == 1, keys
        every_key.update(keys)
    named = {k.decode().split("{c}", 1)[1] for k in every_key}
    day = time.strftime("%Y%m%d", time.gmtime())
    for scope, scope_id in setup.ids.items():
        for kind in ("r", "t", f"d:{day}", f"m:{day[:6]}"):
            assert f"{kind}:{scope}:{scope_id}" in named, (kind, scope, named)
    assert "auth:epoch" in named
    assert len({key_slot(k) for k in every_key}) == 1
