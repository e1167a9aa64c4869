"""Passkeys in Chromium: a virtual authenticator (DevTools' WebAuthn domain) stands in
for the device's; the page runs the real navigator.credentials ceremonies against the
gateway's webauthn library. The page is opened as http://localhost:<port>: a passkey's
relying party is a domain name, never an IP address."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, PHONE, Visit
from tests.browser.test_chat_page import consent, ready
from tests.browser.test_pages_a11y import axe_violations

EMAIL = "grace@example.org"
PASSWORD = "correct horse battery staple"


def localhost(gateway: Any) -> str:
    return str(gateway.url).replace("127.0.0.1", "localhost")


def authenticator(page: Any) -> tuple[Any, str]:
    """A platform authenticator with user verification, answering at once."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    made = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return cdp, made["authenticatorId"]


def invite(gateway: Any) -> str:
    """An account made by the admin API; its invite link, on localhost."""
    with httpx.Client(base_url=gateway.v1, headers=gateway.auth()) as admin:
        made = admin.post("/admin/accounts", json={"email": EMAIL, "display_name": "Grace"})
        assert made.status_code == 201, made.text
    link = str(made.json()["invite_url"])
    return "/login" + link.split("/login", 1)[1]


def test_register_a_passkey_then_sign_in_with_it(browser: Any, web_gateway: Any) -> None:
    base = localhost(web_gateway)
    v = Visit(browser, web_gateway, DESKTOP, key=None, base=base)
    page = v.open(invite(web_gateway))
    consent(page)
    cdp, auth_id = authenticator(page)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(page.locator("#passkey-box")).to_be_hidden()  # an invite sets a password first
    form = page.locator("#invite-form")
    form.get_by_label("Email").fill(EMAIL)
    form.get_by_label("New password").fill(PASSWORD)
    form.get_by_role("button", name="Create my account").click()
    page.wait_for_url(base + "/")
    page.goto(base + "/account")
    expect(page.locator("#passkey-list")).to_contain_text("No passkey yet.")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-status")).to_contain_text("Passkey added")
    expect(page.locator("#passkey-list")).to_contain_text("Passkey 1: added")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]
    assert len(stored) == 1 and stored[0]["rpId"] == "localhost"
    v.screenshot("account-passkeys-desktop")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/login")
    assert not [c for c in v.context.cookies() if c["name"] == "zdr_session"]
    expect(page.locator("#passkey-box")).to_be_visible()
    v.screenshot("login-passkey-desktop")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(base + "/")
    ready(page)
    assert stored[0]["signCount"] < cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": auth_id}
    )["credentials"][0]["signCount"]  # the authenticator signed a new assertion
    page.goto(base + "/account")
    expect(page.locator("#profile-facts")).to_contain_text(EMAIL)
    expect(page.locator("#passkey-list")).to_contain_text("last used")
    page.set_viewport_size(PHONE)
    v.screenshot("account-passkeys-phone")
    assert v.foreign_requests() == [] and v.errors == []
    v.context.close()


def test_an_unknown_passkey_or_a_cancelled_prompt_is_said_in_words(
    browser: Any, web_gateway: Any
) -> None:
    base = localhost(web_gateway)
    v = Visit(browser, web_gateway, PHONE, key=None, base=base)
    page = v.open("/login")
    consent(page, "Reject non-essential")
    cdp, auth_id = authenticator(page)
    # A passkey for this site the gateway never registered (another server's, say).
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    credential = {
        "credentialId": base64.b64encode(os.urandom(32)).decode(),
        "isResidentCredential": True,
        "rpId": "localhost",
        "privateKey": base64.b64encode(pkcs8).decode(),
        "userHandle": base64.b64encode(b"someone-else").decode(),
        "signCount": 0,
    }
    cdp.send("WebAuthn.addCredential", {"authenticatorId": auth_id, "credential": credential})
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#login-error")).to_contain_text("not registered here")
    v.screenshot("login-passkey-unknown-phone")
    assert not [c for c in v.context.cookies() if c["name"] == "zdr_session"]
    # No passkey for this site on the device: the browser refuses, the page says so.
    cdp.send("WebAuthn.clearCredentials", {"authenticatorId": auth_id})
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#login-error")).to_contain_text("No passkey was used")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_enabled()
    assert v.foreign_requests() == [] and v.errors == []
    v.context.close()


def test_a_page_opened_by_ip_address_offers_no_passkey(browser: Any, web_gateway: Any) -> None:
    v = Visit(browser, web_gateway, DESKTOP, key=None)  # http://127.0.0.1:<port>
    page = v.open("/login")
    consent(page)
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#passkey-box")).to_be_hidden()  # it could only fail there
    expect(page.locator("#password-form")).to_be_visible()
    v.context.close()
