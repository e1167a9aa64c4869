"""Architecture test: with a deny-all policy, no route and no model reaches an upstream.

Every catalog provider is given credentials and a base URL on a counting server;
the policy's verification age is 1 day, so every record is stale and nothing is
routable. Every /v1 route of the app must be listed in ROUTE_BODIES: a new route
fails this test until it is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.routing import Route

from conftest import RETAINING_POLICY, GatewayFactory, RunningGateway, chat_model
from fake_openai import ServerThread
from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.server.app import _routes


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "deny-all probe"}]}


# method, path template -> body builder (None for GET). {model} is filled per model.
ROUTE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/chat/completions"): chat,
    ("POST", "/v1/images/generations"): lambda m: {"model": m, "prompt": "deny-all probe"},
    ("POST", "/v1/embeddings"): lambda m: {"model": m, "input": "deny-all probe"},
    ("POST", "/v1/messages"): lambda m: {"max_tokens": 16, **chat(m)},
    ("POST", "/v1/responses"): lambda m: {"model": m, "input": "deny-all probe"},
    ("GET", "/v1/models"): None,
    ("GET", "/v1/models/{author}/{slug}"): None,
    ("GET", "/v1/models/{author}/{slug}/endpoints"): None,
    ("POST", "/v1/receipts/verify"): lambda m: {"receipt": "a.b.c"},
    ("GET", "/v1/policy-log"): None,
}

# Routes that serve no model: probed once (path parameters filled with "x"), they
# answer without any upstream call.
NO_MODEL_BODIES: dict[tuple[str, str], Any] = {
    ("GET", "/v1/usage"): None,
    ("GET", "/v1/account/export"): None,
    ("DELETE", "/v1/account"): None,
    ("GET", "/v1/account"): None,
    ("GET", "/v1/account/keys"): None,
    ("POST", "/v1/account/keys"): {"name": "probe"},
    ("POST", "/v1/account/keys/{key_id}/rotate"): None,
    ("POST", "/v1/account/keys/{key_id}/revoke"): None,
    ("GET", "/v1/admin/accounts"): None,
    ("POST", "/v1/admin/accounts"): {"email": "probe@example.org"},
    ("GET", "/v1/admin/accounts/{account_id}"): None,
    ("PATCH", "/v1/admin/accounts/{account_id}"): {"rpm": 1},
    ("DELETE", "/v1/admin/accounts/{account_id}"): None,
    ("GET", "/v1/admin/accounts/{account_id}/export"): None,
    ("POST", "/v1/admin/accounts/{account_id}/sessions/revoke"): {},
    ("GET", "/v1/admin/teams"): None,
    ("POST", "/v1/admin/teams"): {"name": "probe"},
    ("PATCH", "/v1/admin/teams/{team_id}"): {"rpm": 1},
    ("DELETE", "/v1/admin/teams/{team_id}"): None,
    ("PUT", "/v1/admin/teams/{team_id}/members/{account_id}"): None,
    ("DELETE", "/v1/admin/teams/{team_id}/members/{account_id}"): None,
    ("GET", "/v1/admin/keys"): None,
    ("POST", "/v1/admin/keys"): {"name": "probe"},
    ("GET", "/v1/admin/keys/{key_id}"): None,
    ("PATCH", "/v1/admin/keys/{key_id}"): {"rpm": 1},
    ("POST", "/v1/admin/keys/{key_id}/rotate"): None,
    ("POST", "/v1/admin/keys/{key_id}/revoke"): None,
    ("GET", "/v1/admin/usage"): None,
    ("GET", "/v1/admin/audit"): None,
}
for _route, _body in NO_MODEL_BODIES.items():
    ROUTE_BODIES[_route] = None if _body is None else (lambda m, b=_body: b)
NO_MODEL = {("POST", "/v1/receipts/verify"), *NO_MODEL_BODIES}


# Routes whose bodies take ``stream``; the others are probed without it.
STREAMING = {
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/responses"),
}


class Counter:
    def __init__(self) -> None:
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.json_response({"error": {"message": "should never be called"}}, status=500)


@pytest.fixture
def counter() -> Iterator[tuple[Counter, str]]:
    count = Counter()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", count.handle)
    server = ServerThread(app)
    port = server.start()
    yield count, f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def denied(counter: tuple[Counter, str], make_gateway: GatewayFactory) -> RunningGateway:
    _, url = counter
    catalog = load_packaged_catalog()
    # The counter's origin is attested for every provider (http to loopback is
    # allowed only then), which makes by-agreement records attested too: only
    # the verification age keeps them shut, as it must.
    attestation = {"reference": "test", "attested_on": "2026-11-02", "origins": [url]}
    providers: dict[str, Any] = {
        pid: {"base_url": url + "/v1", "api_key": "x", "zdr_attestation": attestation}
        for pid in catalog.providers
    }
    providers["retainer"] = {
        "protocol": "openai",
        "base_url": url + "/v1",
        "api_key": "x",
        "policy": RETAINING_POLICY,
        "models": [chat_model("ok")],
    }
    return make_gateway(
        providers, catalog=catalog, extra={"policy": {"max_verification_age_days": 1}}
    )


def v1_routes(gw: RunningGateway) -> list[tuple[str, str]]:
    found = []
    for route in _routes():
        assert isinstance(route, Route)
        if route.path.startswith("/v1/") and route.endpoint.__name__ != "storage_feature":
            found.extend((m, route.path) for m in sorted(route.methods or ()) if m != "HEAD")
    return found


def test_every_route_is_covered(denied: RunningGateway) -> None:
    missing = set(v1_routes(denied)) - set(ROUTE_BODIES)
    assert not missing, f"add these routes to ROUTE_BODIES: {missing}"


def test_deny_all_sends_nothing_upstream(
    denied: RunningGateway, counter: tuple[Counter, str]
) -> None:
    count, _ = counter
    models = list(denied.state.gateway.catalog.models)
    assert len(models) > 300
    with httpx.Client(headers=denied.auth(), timeout=30) as client:
        for (method, path), body in ROUTE_BODIES.items():
            if (method, path) in NO_MODEL:
                filled = re.sub(r"\{[a-z_]+\}", "x", path)
                payload = None if body is None else body(None)
                response = client.request(method, denied.url + filled, json=payload)
                assert response.status_code in (200, 201, 403, 404), (path, response.text)
                continue
            for model in models if "{" in path or body else [None]:
                author, _, slug = (model or "a/b").partition("/")
                url = denied.url + path.format(author=author, slug=slug)
                if body is None:
                    response = client.request(method, url)
                    assert response.status_code in (200, 404)
                    continue
                for stream in (False, True) if (method, path) in STREAMING else (None,):
                    extra = {} if stream is None else {"stream": stream}
                    payload = {**body(model), **extra}
                    response = client.request(method, url, json=payload)
                    assert response.status_code == 404, (path, model, response.text[:200])
                    assert response.json()["error"]["code"] == "no_zdr_endpoint"
    assert count.hits == 0
