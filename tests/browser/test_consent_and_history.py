"""Consent, on-device history, temporary chats and "forget everything", in Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from tests.browser.test_chat_page import choose, consent, ready, send

STORAGE = """async () => ({
  local: Object.keys(localStorage).sort(),
  session: Object.keys(sessionStorage).sort(),
  cookies: document.cookie,
  databases: (await indexedDB.databases()).map((d) => d.name),
})"""

CONVERSATIONS = """async () => {
  const dbs = (await indexedDB.databases()).map((d) => d.name);
  if (!dbs.includes("zdrgate-history")) return null;
  return await new Promise((resolve) => {
    const req = indexedDB.open("zdrgate-history");
    req.onsuccess = () => {
      const tx = req.result.transaction("conversations").objectStore("conversations").getAll();
      tx.onsuccess = () => { const rows = tx.result; req.result.close(); resolve(rows.map((r) => ({
        id: r.id, iv: r.iv.length, plain: JSON.stringify(r).includes("remember"),
        bytes: r.data.byteLength,
      }))); };
    };
  });
}"""


def storage(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(STORAGE)
    return result


def test_nothing_is_stored_before_a_choice_and_reject_keeps_only_the_record(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    ready(page)
    expect(page.get_by_role("dialog", name="Cookies and storage on this device")).to_be_visible()
    buttons = [
        page.get_by_role("button", name=n, exact=True)
        for n in ("Accept all", "Reject non-essential", "Customize")
    ]
    sizes = {(round(b.bounding_box()["width"]), round(b.bounding_box()["height"])) for b in buttons}
    assert len(sizes) == 1, f"the three choices are not the same size: {sizes}"
    v.screenshot("consent-desktop")
    assert storage(page) == {"local": [], "session": [], "cookies": "", "databases": []}
    consent(page, "Reject non-essential")
    choose(page, "test chat", "test/chat")  # would write a preference if allowed
    page.locator("#theme-switch").click()
    send(page, "remember this")
    expect(page.locator("#live")).to_have_text("Answer finished.")
    assert storage(page) == {
        "local": ["zdrgate.consent"],
        "session": [],
        "cookies": "",
        "databases": [],
    }
    page.reload()
    ready(page)
    expect(page.locator(".consent")).to_have_count(0)  # remembered
    expect(page.locator("#conversation-list li")).to_have_count(0)


def test_accept_reload_then_change_the_choice(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    ready(page)
    consent(page, "Accept all")
    choose(page, "test chat", "test/chat")
    page.locator("#theme-switch").click()
    send(page, "remember this")
    expect(page.locator("#live")).to_have_text("Answer finished.")
    kept = storage(page)
    assert kept["local"] == ["zdrgate.consent", "zdrgate.models", "zdrgate.theme"]
    assert kept["databases"] == ["zdrgate-history"]
    page.reload()
    ready(page)
    expect(page.locator(".consent")).to_have_count(0)
    expect(page.locator(".model-button")).to_contain_text("Test Chat")  # the preference
    page.get_by_role("button", name="Cookie settings").click()
    details = page.locator(".consent-details")
    expect(details).to_contain_text("zdrgate-history")
    expect(details).to_contain_text("zdr_session")
    v.screenshot("consent-customize-desktop")
    details.get_by_label("Preferences").uncheck()
    details.get_by_label("Chat history on this device").uncheck()
    details.get_by_role("button", name="Save my choices").click()
    expect(page.locator(".consent")).to_have_count(0)
    page.wait_for_function("async () => (await indexedDB.databases()).length === 0")
    assert storage(page)["local"] == ["zdrgate.consent"]


def test_history_is_encrypted_survives_reload_and_is_gone_after_forget(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    ready(page)
    consent(page, "Accept all")
    choose(page, "test chat", "test/chat")
    send(page, "remember this")
    expect(page.locator("#live")).to_have_text("Answer finished.")
    expect(page.locator("#conversation-list li")).to_have_count(1)
    rows = page.evaluate(CONVERSATIONS)
    assert len(rows) == 1 and rows[0]["iv"] == 12 and rows[0]["bytes"] > 0
    assert rows[0]["plain"] is False  # only ciphertext at rest
    page.reload()
    ready(page)
    item = page.locator("#conversation-list li")
    expect(item).to_have_count(1)
    item.get_by_role("button", name="remember this").click()
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: remember this")
    v.screenshot("chat-history-desktop")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = download.value.path().read_text()
    assert "echo: remember this" in exported
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Forget everything").click()
    expect(page.locator("#conversation-list li")).to_have_count(0)
    page.reload()
    ready(page)
    expect(page.locator("#conversation-list li")).to_have_count(0)
    assert page.evaluate(CONVERSATIONS) is None


def test_a_temporary_chat_writes_nothing(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    ready(page)
    consent(page, "Accept all")
    page.locator("#temporary-toggle").check()
    expect(page.locator("#temporary-banner")).to_be_visible()
    choose(page, "test chat", "test/chat")
    send(page, "forget me")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: forget me")
    v.screenshot("chat-temporary-desktop")
    assert storage(page)["databases"] == []
    page.reload()
    ready(page)
    expect(page.locator("#conversation-list li")).to_have_count(0)
