"""The admin page in Chromium over the /v1/admin API: accounts (create with an invite
link, limits and budgets, sign out everywhere, delete), teams (limits and budgets), keys
(shown once, limits and budgets, rotate, revoke), usage, the audit log; hidden from
members and refused to them (403)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, PHONE, Visit
from tests.browser.test_chat_page import consent
from tests.browser.test_pages_a11y import axe_violations


def admin_api(gateway: Any) -> httpx.Client:
    return httpx.Client(base_url=gateway.v1, headers=gateway.auth())


def row(page: Any, table: str, text: str) -> Any:
    return page.locator(f"#{table} tbody tr", has_text=text)


def test_an_admin_manages_accounts_teams_keys_and_sees_usage_and_audit(
    visit: Any,
) -> None:
    gateway = visit().gateway
    chat = {"model": "test/chat", "messages": [{"role": "user", "content": "count me"}]}
    assert httpx.post(
        gateway.v1 + "/chat/completions", headers=gateway.auth(), json=chat
    ).is_success
    with admin_api(gateway) as api:  # the usage writer flushes in the background
        for _ in range(100):
            if api.get("/admin/usage").json()["data"]:
                break
            time.sleep(0.1)
    v = visit()
    page = v.open("/admin")
    consent(page)
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#admin-body")).to_be_visible()
    expect(row(page, "usage-table", "test/chat")).to_have_count(1)  # the chat above, no content
    # A team, then an account in it: the invite link is shown to copy.
    team = page.locator("#team-form")
    team.get_by_label("Team name").fill("Research")
    team.get_by_label("Budget per day (USD)").fill("5")
    team.get_by_role("button", name="Create team").click()
    expect(row(page, "teams-table", "Research")).to_contain_text("$5.00")
    account = page.locator("#account-form")
    account.get_by_label("Email").fill("lin@example.org")
    account.get_by_label("Name").fill("Lin")
    account.get_by_label("Team").select_option(label="Research")
    account.get_by_role("button", name="Create and get an invite link").click()
    expect(page.locator("#invite")).to_be_visible()
    link = page.locator("#invite-url").input_value()
    assert "/login?invite=" in link
    expect(row(page, "accounts-table", "lin@example.org")).to_contain_text("Research")
    expect(row(page, "teams-table", "Research")).to_contain_text("1")
    # A key for Lin with limits: shown once, and it works.
    form = page.locator("#key-form")
    form.get_by_label("Key name").fill("ci")
    form.get_by_label("Owner").select_option(label="lin@example.org")
    form.get_by_label("Requests / min").fill("5")
    form.get_by_label("Budget / day (USD)").fill("1")
    form.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-value")
    expect(secret).not_to_have_value("")
    key = secret.input_value()
    keys = row(page, "keys-table", "ci")
    expect(keys).to_contain_text("lin@example.org")
    expect(keys).to_contain_text("5 req/min, $1.00/day")
    with_key = {"Authorization": f"Bearer {key}"}
    assert httpx.get(gateway.v1 + "/models", headers=with_key).status_code == 200
    v.screenshot("admin-desktop")
    # Limits changed in place, then the key revoked (asked twice).
    keys.get_by_role("button", name="Limits of key ci").click()
    editor = page.get_by_role("form", name="Limits of key ci")
    editor.get_by_label("Requests / min").fill("7")
    editor.get_by_label("Budget / day (USD)").fill("")
    editor.get_by_role("button", name="Save limits").click()
    expect(keys).to_contain_text("7 req/min")
    expect(keys).not_to_contain_text("/day")
    key_id = keys.locator("code").inner_text()
    with admin_api(gateway) as api:
        stored = api.get(f"/admin/keys/{key_id}").json()
    assert stored["rpm"] == 7 and stored["budget_day_usd"] is None
    # Rotated (asked twice): the new secret is shown once and works, the old one not.
    rotate = keys.get_by_role("button", name="Rotate key ci")
    rotate.click()
    expect(rotate).to_have_text("Confirm: new secret")
    rotate.click()
    expect(secret).not_to_have_value(key)
    old, key = key, secret.input_value()
    with_key = {"Authorization": f"Bearer {key}"}
    assert httpx.get(gateway.v1 + "/models", headers=with_key).status_code == 200
    old_key = {"Authorization": f"Bearer {old}"}
    assert httpx.get(gateway.v1 + "/models", headers=old_key).status_code == 401
    page.set_viewport_size(PHONE)
    page.locator("#keys-table").scroll_into_view_if_needed()
    v.screenshot("admin-keys-phone")  # an active key's three actions on a narrow screen
    page.set_viewport_size(DESKTOP)
    revoke = keys.get_by_role("button", name="Revoke key ci")
    revoke.click()
    expect(revoke).to_have_text("Confirm: revoke")
    revoke.click()
    expect(keys).to_contain_text("revoked")
    assert httpx.get(gateway.v1 + "/models", headers=with_key).status_code == 401
    # The account's and the team's limits changed in place; Lin signed out everywhere.
    lin = row(page, "accounts-table", "lin@example.org")
    lin.get_by_role("button", name="Limits of lin@example.org").click()
    editor = page.get_by_role("form", name="Limits of lin@example.org")
    editor.get_by_label("Tokens / min").fill("9000")
    editor.get_by_label("Budget / month (USD)").fill("20")
    v.screenshot("admin-account-limits-desktop")
    editor.get_by_role("button", name="Save limits").click()
    expect(lin).to_contain_text("9000 tok/min, $20.00/month")
    research = row(page, "teams-table", "Research")
    research.get_by_role("button", name="Limits of team Research").click()
    editor = page.get_by_role("form", name="Limits of team Research")
    editor.get_by_label("Requests / min").fill("60")
    editor.get_by_label("Budget / day (USD)").fill("")
    editor.get_by_role("button", name="Save limits").click()
    expect(research).to_contain_text("60 / \u2013")  # rpm / tpm, tpm not set
    expect(research).not_to_contain_text("$5.00")
    with admin_api(gateway) as api:
        stored = api.get("/admin/accounts/lin@example.org").json()
        assert (stored["tpm"], stored["budget_month_usd"]) == (9000, 20)
        [team_row] = [t for t in api.get("/admin/teams").json()["data"] if t["name"] == "Research"]
        assert (team_row["rpm"], team_row["budget_day_usd"]) == (60, None)
    page.set_viewport_size(PHONE)
    page.locator("#accounts-table").scroll_into_view_if_needed()
    v.screenshot("admin-rows-phone")  # a row's three actions on a narrow screen
    page.set_viewport_size(DESKTOP)
    sign_out = lin.get_by_role("button", name="Sign lin@example.org out everywhere")
    sign_out.click()
    sign_out.click()
    expect(page.locator("#admin-status")).to_contain_text("lin@example.org: 0 sessions ended.")
    # The account deleted (asked twice); the audit log shows every step.
    lin.get_by_role("button", name="Delete account lin@example.org").click()
    lin.get_by_role("button", name="Delete account lin@example.org").click()
    expect(row(page, "accounts-table", "lin@example.org")).to_have_count(0)
    with admin_api(gateway) as api:
        assert "lin@example.org" not in api.get("/admin/accounts").text
    audit = page.locator("#audit-table")
    for action in (
        "teams.create",
        "accounts.create",
        "keys.create",
        "keys.update",
        "keys.rotate",
        "keys.revoke",
        "accounts.update",
        "teams.update",
        "accounts.delete",
    ):
        expect(audit).to_contain_text(action)
    assert key not in audit.inner_text()  # the audit log names keys by id only
    assert axe_violations(page) == []
    page.set_viewport_size(PHONE)
    page.locator("#accounts").scroll_into_view_if_needed()
    v.screenshot("admin-phone")
    page.set_viewport_size(DESKTOP)
    page.locator("#audit").scroll_into_view_if_needed()
    v.screenshot("admin-audit-desktop")
    assert v.foreign_requests() == [] and v.errors == []


def sign_in_with_key(v: Visit, key: str) -> Any:
    page = v.open("/login")
    consent(page, "Reject non-essential")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(v.base + "/")
    return page


def test_admin_pages_are_hidden_from_members_and_refused(browser: Any, web_gateway: Any) -> None:
    with admin_api(web_gateway) as api:
        assert api.post("/admin/accounts", json={"email": "m@example.org"}).status_code == 201
        member = api.post("/admin/keys", json={"account": "m@example.org", "name": "m"}).json()
        boss = api.post("/admin/keys", json={"name": "ops", "is_admin": True}).json()
    v = Visit(browser, web_gateway, DESKTOP, key=None)
    page = sign_in_with_key(v, member["key"])
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#nav-admin")).to_have_count(0)  # no link for a member
    response = page.goto(web_gateway.url + "/admin")
    assert response is not None and response.status == 403  # the page itself is refused
    expect(page.locator("#admin-refused")).to_be_visible()
    expect(page.locator("#admin-body")).to_be_hidden()
    refused = page.evaluate("async () => (await fetch('/v1/admin/accounts')).status")
    assert refused == 403
    v.screenshot("admin-refused-desktop")
    assert axe_violations(page) == []
    v.context.close()
    v = Visit(browser, web_gateway, PHONE, key=None)
    page = sign_in_with_key(v, boss["key"])
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(web_gateway.url + "/admin")
    expect(page.locator("#admin-body")).to_be_visible()
    expect(page.locator("#nav-admin")).to_have_attribute("aria-current", "page")
    assert v.foreign_requests() == [] and v.errors == []
    v.context.close()
