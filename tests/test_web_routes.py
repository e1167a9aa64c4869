"""The web app's routes: pages and files with a strict CSP, gzip, and public catalog facts
readable without a key (and nothing else readable without one)."""

from __future__ import annotations

import re

import httpx

from conftest import GatewayFactory, chat_model, provider
from zdrgate.server.web import STATIC_DIR


def test_pages_carry_a_strict_csp_and_no_secret(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({}, extra={"web": {"site_name": "Acme <Private> Chat"}})
    response = httpx.get(gw.url + "/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "Acme &lt;Private&gt; Chat" in response.text  # the site name, escaped
    assert "<script>" not in response.text and " style=" not in response.text
    assert gw.key not in response.text


def test_static_files_are_served_gzipped_with_etags(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({})
    plain = httpx.get(gw.url + "/static/js/chat.js", headers={"accept-encoding": "identity"})
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    packed = httpx.get(gw.url + "/static/js/chat.js", headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.text == plain.text
    again = httpx.get(
        gw.url + "/static/js/chat.js", headers={"if-none-match": plain.headers["etag"]}
    )
    assert again.status_code == 304
    missing = httpx.get(gw.url + "/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert httpx.get(gw.url + "/static/index.html").status_code == 404


def test_no_inline_script_or_style_in_any_shipped_page() -> None:
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), page.name
        assert "<style" not in text and " style=" not in text, page.name
        assert not re.search(r"\son[a-z]+=", text), page.name
        assert "http://" not in text and "https://" not in text, page.name


def test_public_catalog_facts_need_no_key_and_v1_still_does(
    upstream: object, make_gateway: GatewayFactory
) -> None:
    gw = make_gateway({"fake": provider(upstream.base_url, [chat_model()])})  # type: ignore[attr-defined]
    models = httpx.get(gw.url + "/public/models").json()
    row = next(m for m in models["models"] if m["id"] == "test/chat")
    assert row["routable"] is True and row["endpoints"][0]["provider"] == "fake"
    policy = models["policies"][row["endpoints"][0]["policy"]]
    assert policy["retention_days"] == 0 and policy["verified_on"] == "2026-11-01"
    privacy = httpx.get(gw.url + "/public/privacy").json()
    assert [s["id"] for s in privacy["subprocessors"]] == ["fake"]
    assert httpx.post(gw.url + "/public/models").status_code == 405
    assert httpx.get(gw.url + "/v1/models").status_code == 401


def test_the_web_app_can_be_turned_off(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({}, extra={"web": {"enabled": False}})
    assert httpx.get(gw.url + "/").status_code == 404
    assert httpx.get(gw.url + "/static/js/chat.js").status_code == 404
    assert httpx.get(gw.url + "/healthz").status_code == 200


def test_every_storage_key_is_documented_for_operators() -> None:
    source = (STATIC_DIR / "js" / "storage_keys.js").read_text()
    keys = re.findall(r'name: "([^"]+)",\n\s+kind:', source)
    assert "zdr_session" in keys and "zdrgate-history" in keys
    doc = (STATIC_DIR.parents[3] / "docs" / "web.md").read_text()
    for key in keys:
        assert f"`{key}`" in doc, key


def test_the_model_list_is_gzipped_for_clients_that_accept_it(make_gateway: GatewayFactory) -> None:
    from zdrgate.catalog.load import load_packaged_catalog  # noqa: PLC0415

    gw = make_gateway({}, catalog=load_packaged_catalog())
    packed = httpx.get(gw.v1 + "/models", headers={**gw.auth(), "accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and len(packed.json()["data"]) >= 300
    plain = httpx.get(gw.v1 + "/models", headers={**gw.auth(), "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == packed.json()


def test_the_admin_page_is_refused_to_a_signed_in_member(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({})
    with httpx.Client(base_url=gw.v1, headers=gw.auth()) as admin:
        admin.post("/admin/accounts", json={"email": "m@example.org"}).raise_for_status()
        member = admin.post("/admin/keys", json={"account": "m@example.org"}).json()["key"]
    refused = httpx.get(gw.url + "/admin", headers={"Authorization": f"Bearer {member}"})
    assert refused.status_code == 403 and "Admins only" in refused.text
    assert refused.headers["cache-control"] == "no-store"
    assert httpx.get(gw.url + "/admin", headers=gw.auth()).status_code == 200
    assert httpx.get(gw.url + "/admin").status_code == 200  # not signed in: it asks to sign in
