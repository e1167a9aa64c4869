"""The account and sign-in pages in Chromium, on the accounts API."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, PHONE, Visit
from tests.browser.test_chat_page import choose, consent, send


def make_account(gateway: Any) -> str:
    """An account with a daily budget and a key of its own; returns the key."""
    with httpx.Client(base_url=gateway.v1, headers=gateway.auth()) as admin:
        made = admin.post(
            "/admin/accounts", json={"email": "ada@example.org", "display_name": "Ada"}
        )
        assert made.status_code in (200, 201), made.text
        account = made.json()["account"]
        patched = admin.patch(f"/admin/accounts/{account['id']}", json={"budget_day_usd": 2.0})
        assert patched.status_code == 200, patched.text
        key = admin.post("/admin/keys", json={"account": "ada@example.org", "name": "laptop"})
        assert key.status_code in (200, 201), key.text
        return str(key.json()["key"])


def test_account_page_keys_usage_export_and_deletion(browser: Any, web_gateway: Any) -> None:
    key = make_account(web_gateway)
    chat = httpx.post(
        web_gateway.v1 + "/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "test/chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 200
    v = Visit(browser, web_gateway, DESKTOP, key=key)
    page = v.open("/account")
    consent(page)
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#profile-facts")).to_contain_text("ada@example.org")
    expect(page.locator("#keys-table")).to_contain_text("laptop")
    expect(page.locator("#meters")).to_contain_text("of $2")
    page.locator("#new-key input[name=name]").fill("phone")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-secret")).to_contain_text("shown once")
    expect(page.locator("#keys-table")).to_contain_text("phone")
    v.screenshot("account-signed-in-desktop")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export my data (JSON)").click()
    assert "ada@example.org" in download.value.path().read_text()
    confirm = page.get_by_label("Type your email to confirm")
    confirm.fill("someone@else.org")
    expect(page.get_by_role("button", name="Delete my account")).to_be_disabled()
    confirm.fill("ada@example.org")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account is deleted")).to_be_visible()
    gone = httpx.get(web_gateway.v1 + "/models", headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 401  # the key stopped at once
    assert v.foreign_requests() == [] and v.errors == []
    v.context.close()


def test_account_page_asks_to_sign_in_and_login_page_renders(
    browser: Any, web_gateway: Any
) -> None:
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        v = Visit(browser, web_gateway, viewport, key=None)
        page = v.open("/account")
        consent(page, "Reject non-essential")
        expect(page.locator("#signin-needed")).to_be_visible()
        page.get_by_role("link", name="Sign in").last.click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        v.screenshot(f"login-{label}")
        page.get_by_label("API key").fill("zdr-not-a-real-key")
        page.get_by_role("button", name="Sign in with the key").click()
        expect(page.locator("#login-error")).not_to_be_empty()
        assert v.foreign_requests() == [] and v.errors == []
        v.context.close()


def test_sign_in_with_a_key_chat_over_the_session_then_sign_out(
    browser: Any, web_gateway: Any
) -> None:
    key = make_account(web_gateway)
    v = Visit(browser, web_gateway, DESKTOP, key=None)  # no header: the real session only
    page = v.open("/")
    consent(page)
    expect(page.locator("#signin-banner")).to_be_visible()
    page.locator("#signin-banner").get_by_role("link", name="Sign in").click()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(web_gateway.url + "/")
    cookie = next(c for c in v.context.cookies() if c["name"] == "zdr_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie") == ""  # no script can read it
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    choose(page, "test chat", "test/chat")
    send(page, "hello over a session")  # a POST: carries the session's CSRF token
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: hello over a session")
    page.goto(web_gateway.url + "/account")
    expect(page.locator("#profile-facts")).to_contain_text("ada@example.org")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(web_gateway.url + "/login")
    page.goto(web_gateway.url + "/account")
    expect(page.locator("#signin-needed")).to_be_visible()
    assert v.foreign_requests() == [] and v.errors == []
    v.context.close()
