"""/v1/models and the public documents are rendered once per state of routability, and
rendered afresh the moment routability can change: another day (records age out),
providers put under review (evidence watch), a new catalog or policy engine (a config
reload). A cached listing never shows a model as routable that the engine refuses."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from typing import Any

import httpx

from conftest import TODAY, GatewayFactory, chat_model, provider
from zdrgate.catalog.model import Catalog
from zdrgate.policy import PolicyEngine


def routable(gw: Any, path: str = "/v1/models") -> bool:
    body = httpx.get(gw.url + path, headers=gw.auth()).json()
    if path == "/v1/models":
        return bool(next(m for m in body["data"] if m["id"] == "test/chat")["zdr"]["routable"])
    return bool(next(m for m in body["models"] if m["id"] == "test/chat")["routable"])


def chat_refused(gw: Any) -> bool:
    sent = {"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]}
    reply = httpx.post(gw.v1 + "/chat/completions", headers=gw.auth(), json=sent)
    return reply.status_code == 404 and reply.json()["error"]["code"] == "no_zdr_endpoint"


def test_the_listing_is_rendered_once_and_served_plain_gzip_or_304(
    upstream: Any, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"fake": provider(upstream.base_url, [chat_model()])})
    first = httpx.get(gw.v1 + "/models", headers={**gw.auth(), "accept-encoding": "identity"})
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    renders = gw.state.documents.renders
    for _ in range(3):
        assert httpx.get(gw.v1 + "/models", headers=gw.auth()).json() == first.json()
    assert gw.state.documents.renders == renders  # no new render: served from the cache
    same = httpx.get(
        gw.v1 + "/models", headers={**gw.auth(), "if-none-match": first.headers["etag"]}
    )
    assert same.status_code == 304 and same.content == b""
    only = httpx.get(gw.v1 + "/models?routable=1", headers=gw.auth()).json()["data"]
    assert [m["id"] for m in only] == ["test/chat"]  # its own document, not the full list


def test_a_large_listing_goes_gzip_to_clients_that_accept_it(make_gateway: GatewayFactory) -> None:
    from zdrgate.catalog.load import load_packaged_catalog  # noqa: PLC0415

    gw = make_gateway({}, catalog=load_packaged_catalog())
    headers = {**gw.auth(), "accept-encoding": "gzip"}
    with httpx.stream("GET", gw.v1 + "/models", headers=headers) as reply:
        wire = b"".join(reply.iter_raw())  # the bytes as sent, not decoded
    assert reply.headers["content-encoding"] == "gzip"
    assert len(wire) == int(reply.headers["content-length"])
    plain = gzip.decompress(wire)
    assert len(json.loads(plain)["data"]) > 300 and len(wire) * 4 < len(plain)


def test_a_new_day_providers_under_review_or_a_reload_render_afresh(
    upstream: Any, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"fake": provider(upstream.base_url, [chat_model()])})
    gateway = gw.state.gateway
    for path in ("/v1/models", "/public/models"):
        assert routable(gw, path)
    # The record (verified 2026-11-01) ages out after 180 days.
    gateway.today = lambda: dt.date(2027, 6, 1)
    for path in ("/v1/models", "/public/models"):
        assert not routable(gw, path)
    assert chat_refused(gw)
    gateway.today = lambda: TODAY
    assert routable(gw, "/v1/models")
    gateway.engine.suspend(frozenset({"fake"}))  # evidence changed: under review
    for path in ("/v1/models", "/public/models"):
        assert not routable(gw, path)
    assert chat_refused(gw)
    gateway.engine.suspend(frozenset())
    assert routable(gw, "/v1/models")
    catalog = gateway.catalog
    gateway.catalog = Catalog({}, {})  # a reload with no provider configured
    assert httpx.get(gw.v1 + "/models", headers=gw.auth()).json()["data"] == []
    gateway.catalog = catalog
    gateway.engine = PolicyEngine(max_verification_age_days=10)  # a stricter config
    assert not routable(gw, "/v1/models")
    assert chat_refused(gw)
