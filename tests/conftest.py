from __future__ import annotations

import datetime as dt
import ipaddress
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from databases import DATABASES, database_url
from fake_azure import FakeAzure, start_fake_azure
from fake_openai import FakeOpenAI, start_fake_openai
from zdrgate.catalog.model import Catalog
from zdrgate.config import parse_settings
from zdrgate.server.app import app_for, build_state
from zdrgate.server.run import SERVER_OPTIONS, server_options
from zdrgate.server.state import AppState
from zdrgate.upstream import Transport
from zdrgate.upstream.assets import AssetFetcher

TODAY = dt.date(2026, 11, 27)
MASTER = "test-master-key-0123456789abcdef01234"
ZDR_POLICY = {
    "retention_days": 0,
    "trains_on_data": False,
    "evidence": "https://example.invalid/dpa",
    "verified_on": "2026-11-01",
}
RETAINING_POLICY = {**ZDR_POLICY, "retention_days": 30}


def provider(
    base_url: str,
    models: list[dict[str, Any]],
    policy: dict[str, Any] | None = None,
    key: str = "upstream-key",
    protocol: str = "openai",
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "base_url": base_url,
        "api_key": key,
        "policy": policy or ZDR_POLICY,
        "models": models,
    }


def chat_model(
    upstream_id: str = "ok", model_id: str = "test/chat", price: float = 1.0
) -> dict[str, Any]:
    return {
        "id": model_id,
        "upstream_id": upstream_id,
        "prompt_price": price,
        "completion_price": price,
        "input_modalities": ["text", "image"],
    }


class UvicornThread:
    def __init__(self, app: Any, options: dict[str, Any] | None = None) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, **(options or SERVER_OPTIONS))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class RunningGateway:
    url: str
    state: AppState
    key: str = MASTER

    @property
    def v1(self) -> str:
        return self.url + "/v1"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "", None})


@pytest.fixture(autouse=True, scope="session")
def no_name_lookups_beyond_loopback() -> Iterator[None]:
    """The suite never talks to the outside world: a DNS lookup of any other name
    fails at once (IP literals need no lookup, and the gateway refuses private ones)."""
    original = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOCAL_HOSTS and not _is_ip(name):
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name!r}")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = guarded  # type: ignore[assignment]
    yield
    socket.getaddrinfo = original  # type: ignore[assignment]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@pytest.fixture
def upstream() -> Iterator[FakeOpenAI]:
    fake, server = start_fake_openai()
    yield fake
    server.stop()


GatewayFactory = Callable[..., RunningGateway]


@pytest.fixture
def make_gateway(tmp_path: Any) -> Iterator[GatewayFactory]:
    threads: list[UvicornThread] = []

    def make(
        providers: dict[str, Any],
        *,
        catalog: Catalog | None = None,
        extra: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        assets: AssetFetcher | None = None,
        transport: Transport | None = None,
    ) -> RunningGateway:
        extra = dict(extra or {})
        storage = {  # the test's data dir even when `extra` changes the database
            "database_url": f"sqlite:///{tmp_path}/zdrgate.db",
            "data_dir": str(tmp_path),
            **extra.pop("storage", {}),
        }
        raw = {"storage": storage, "providers": providers, **extra}
        state = build_state(
            parse_settings(raw),
            catalog=catalog or Catalog({}, {}),
            environ={"ZDRGATE_MASTER_KEY": MASTER, **(environ or {})},
            today=lambda: TODAY,
            rng=random.Random(7),
            assets=assets,
            transport=transport,
        )
        thread = UvicornThread(app_for(state), server_options(state.settings.server))
        threads.append(thread)
        port = thread.start()
        return RunningGateway(f"http://127.0.0.1:{port}", state)

    yield make
    for thread in threads:
        thread.stop()


@pytest.fixture
def azure() -> Iterator[FakeAzure]:
    """A fake Azure OpenAI resource on 127.0.0.1 (tests/fake_azure.py)."""
    fake, server = start_fake_azure()
    yield fake
    server.stop()


@pytest.fixture
def three_fakes() -> Iterator[dict[str, str]]:
    """The OpenAI, Anthropic and Gemini fakes, by protocol name."""
    from protocol_fakes import running_fakes  # noqa: PLC0415 - it imports this module

    with running_fakes() as urls:
        yield urls


@pytest.fixture
def gateway(three_fakes: dict[str, str], make_gateway: GatewayFactory) -> RunningGateway:
    """A gateway with one provider per protocol (see protocol_fakes.three_providers)."""
    from protocol_fakes import three_providers  # noqa: PLC0415

    return make_gateway(three_providers(three_fakes))


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A fresh, empty database: SQLite, and PostgreSQL in a random schema."""
    with database_url(request.param, tmp_path) as url:
        yield url


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A random key prefix on the machine's Redis, its keys deleted afterwards (never
    FLUSHALL: others share this Redis). Under CI=true an unreachable Redis fails."""
    import os  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"zdrtest:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
