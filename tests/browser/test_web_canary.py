"""The canary audit, through the web app: a person chats in Chromium (streamed answers,
regenerate, edit and resend, a failing model, a stop mid-stream, history on), then the
gateway is stopped and every file it could have written is searched for the canary.
The browser's own profile (where the encrypted history lives) is outside that folder."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from tests.browser.test_chat_page import choose, consent, ready, send

from test_canary import MASTER, served  # the `zdrgate serve` process fixture

__all__ = ["served"]


def test_a_web_chat_leaves_nothing_on_the_server(browser: Any, served: tuple) -> None:
    url, root, upstream, proc = served
    canary = f"CANARY{uuid.uuid4().hex}"
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {MASTER}"})
    page = context.new_page()
    page.goto(url + "/")
    consent(page, "Accept all")
    ready(page)
    page.locator("#system-prompt-box summary").click()
    page.locator("#system-prompt").fill(f"system {canary}")
    choose(page, "canary ok", "canary/ok")
    send(page, f"my secret is {canary}")
    answer = page.locator(".msg.assistant .msg-body").last
    expect(answer).to_contain_text(canary)
    page.get_by_role("button", name="Regenerate").click()
    expect(page.locator("#live")).to_have_text("Answer finished.")
    page.locator(".msg.user").get_by_role("button", name="Edit").click()
    page.locator(".edit-area").fill(f"edited {canary}")
    page.get_by_role("button", name="Save and send").click()
    expect(answer).to_contain_text(f"edited {canary}")
    choose(page, "canary bad400", "canary/bad400")
    send(page, f"this fails {canary}")
    expect(page.locator(".msg.assistant .state-card").last).to_be_visible()
    choose(page, "canary slow", "canary/slow")
    send(page, f"stop me {canary}")
    expect(page.locator("#stop")).to_be_visible()
    page.wait_for_timeout(300)
    page.keyboard.press("Escape")
    expect(page.locator("#send")).to_be_visible()
    assert upstream.count("ok") >= 3 and upstream.count("bad400") == 1
    context.close()
    time.sleep(1.5)  # let the usage batch be written
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    needles = [canary.encode(), canary.encode("utf-16-le")]
    files = [p for p in Path(root).rglob("*") if p.is_file()]
    assert files, "the gateway wrote nothing at all: the scan would prove nothing"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"canary found in {path.relative_to(root)}"
