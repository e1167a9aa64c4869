"""Two gateways sharing a database and Redis (SQLite and PostgreSQL): a model-serving
request is identified under the last revocation epoch its instance saw, and its
admission (the limiter's one Redis round trip) reads the epoch again. A key revoked,
restricted or limited through one instance is refused, restricted or limited by the
other on its very next request, on every model-serving route, with nothing sent
upstream; so is a session opened with that key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import REDIS_URL, GatewayFactory, RunningGateway, chat_model
from fake_media import FakeMedia, start_fake_media
from media_setup import embedding_model, image_model, media_provider
from test_deny_all import ROUTE_BODIES, STREAMING

pytestmark = pytest.mark.services
MODEL_FOR = {"/v1/images/generations": "test/image", "/v1/embeddings": "test/embed"}


@dataclass
class Pair:
    a: RunningGateway
    b: RunningGateway
    media: FakeMedia

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = httpx.request(method, self.a.v1 + path, json=body, headers=self.a.auth())
        assert reply.is_success, reply.text
        return reply.json()

    def new_key(self, **settings: Any) -> tuple[str, str]:
        key = self.admin("POST", "/admin/keys", settings)["key"]
        return key, key.split("-")[1]


@pytest.fixture
def pair(db_url: str, redis_prefix: str, make_gateway: GatewayFactory) -> Iterator[Pair]:
    fake, server = start_fake_media()
    models = [chat_model("chat", "test/chat"), image_model("img"), embedding_model()]
    providers = {"zdr": media_provider(fake.openai_url, models)}
    storage = {"database_url": db_url, "redis_url": REDIS_URL, "redis_key_prefix": redis_prefix}
    a = make_gateway(providers, extra={"storage": storage})
    b = make_gateway(providers, extra={"storage": storage})
    yield Pair(a, b, fake)
    server.stop()


def model_serving_requests() -> Iterator[tuple[str, dict[str, Any]]]:
    for (method, path), body_for in ROUTE_BODIES.items():
        if method != "POST" or body_for is None:
            continue
        body = body_for(MODEL_FOR.get(path, "test/chat"))
        if "model" not in body:
            continue  # not a model-serving route (receipt verification)
        streams = (False, True) if (method, path) in STREAMING else (False,)
        for stream in streams:
            yield path, {**body, "stream": True} if stream else body


def post(gw: RunningGateway, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=10)


def test_a_key_revoked_through_one_is_refused_by_the_other_on_every_route(pair: Pair) -> None:
    probed = 0
    for path, body in model_serving_requests():
        key, key_id = pair.new_key(name="to-revoke")
        assert post(pair.b, path, body, key).status_code == 200  # cached on b
        pair.admin("POST", f"/admin/keys/{key_id}/revoke")
        sent = len(pair.media.requests)
        refused = post(pair.b, path, body, key)
        assert refused.status_code == 401, (path, body.get("stream"), refused.text)
        assert len(pair.media.requests) == sent, path
        probed += 1
    assert probed == 8  # chat, messages, responses (plain, streamed), images, embeddings


def test_a_revoked_key_gets_401_not_the_error_its_request_would_get(pair: Pair) -> None:
    """An error before the admission (an unknown model) is not answered under a stale
    identity: the epoch is read again and the key found revoked."""
    chat = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    for path, body in (("/v1/chat/completions", chat), ("/v1/messages", {**chat, "max_tokens": 9})):
        key, key_id = pair.new_key(name="to-revoke")
        assert post(pair.b, path, body, key).status_code == 200  # cached on b
        pair.admin("POST", f"/admin/keys/{key_id}/revoke")
        refused = post(pair.b, path, {**body, "model": "no/such-model"}, key)
        assert refused.status_code == 401, (path, refused.text)


def test_a_narrowed_allowlist_and_a_new_limit_apply_on_the_other_at_once(pair: Pair) -> None:
    chat = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    key, key_id = pair.new_key(name="changing")
    assert post(pair.b, "/v1/chat/completions", chat, key).status_code == 200
    pair.admin("PATCH", f"/admin/keys/{key_id}", {"models": ["test/embed"]})
    refused = post(pair.b, "/v1/chat/completions", chat, key)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "model_not_allowed"
    pair.admin("PATCH", f"/admin/keys/{key_id}", {"models": None, "rpm": 1})
    assert post(pair.b, "/v1/chat/completions", chat, key).status_code == 200
    limited = post(pair.b, "/v1/chat/completions", chat, key)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_a_session_opened_with_a_revoked_key_ends_on_the_other(pair: Pair) -> None:
    key, key_id = pair.new_key(name="web")
    client = httpx.Client(base_url=pair.b.url, timeout=10)
    opened = client.post("/auth/login", json={"api_key": key})
    assert opened.status_code == 200, opened.text
    client.headers["X-CSRF-Token"] = opened.json()["csrf_token"]
    chat = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    pair.admin("POST", f"/admin/keys/{key_id}/revoke")
    sent = len(pair.media.requests)
    refused = client.post("/v1/chat/completions", json=chat)
    assert refused.status_code == 401, refused.text
    assert len(pair.media.requests) == sent
    client.close()
