"""The chat page's states besides an answer, each designed: offline, the gateway out of
reach, a session that ended, budget used up (402), rate limited (429 with its wait),
no routable model (404 with the reasons), an image that failed, an answer cut by the
upstream. Limits are set through the admin API; faults come from fake upstreams."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, PHONE, Visit
from tests.browser.test_chat_page import choose, consent, ready, send
from tests.browser.test_pages_a11y import axe_violations


def limited_key(gateway: Any, **limits: Any) -> str:
    with httpx.Client(base_url=gateway.v1, headers=gateway.auth()) as admin:
        made = admin.post("/admin/keys", json={"name": "limited", **limits})
        assert made.status_code == 201, made.text
        return str(made.json()["key"])


def open_chat(v: Visit, model: tuple[str, str] = ("test chat", "test/chat")) -> Any:
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, *model)
    return page


def both_widths(v: Visit, name: str) -> None:
    v.screenshot(f"{name}-desktop")
    v.page.set_viewport_size(PHONE)
    v.screenshot(f"{name}-phone")
    v.page.set_viewport_size(DESKTOP)


def test_offline_keeps_the_message_and_says_so(visit: Any) -> None:
    v = visit()
    page = open_chat(v)
    fake = v.gateway.fakes["chat"]  # type: ignore[attr-defined]
    before = fake.count()
    v.context.set_offline(True)
    send(page, "are you there?")
    banner = page.locator("#offline-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("You are offline")
    expect(page.locator("#composer-input")).to_have_value("are you there?")
    expect(page.locator(".msg")).to_have_count(0)
    both_widths(v, "state-offline")
    assert axe_violations(page) == []
    v.context.set_offline(False)
    expect(banner).to_be_hidden()
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: are you there?")
    assert fake.count() == before + 1  # sent once, when the connection was back


def test_a_gateway_out_of_reach_puts_the_message_back(visit: Any) -> None:
    v = visit()
    page = open_chat(v)
    page.route("**/v1/chat/completions", lambda route: route.abort("connectionrefused"))
    send(page, "hello?")
    expect(page.locator("#offline-banner")).to_contain_text("could not be reached")
    expect(page.locator("#composer-input")).to_have_value("hello?")
    expect(page.locator(".msg")).to_have_count(0)
    assert [e for e in v.errors if "ERR_CONNECTION_REFUSED" not in e] == []


def test_budget_used_up_is_a_card_not_a_raw_error(browser: Any, web_gateway: Any) -> None:
    key = limited_key(web_gateway, budget_day_usd=0.000001)
    v = Visit(browser, web_gateway, DESKTOP, key=key)
    page = open_chat(v)
    send(page, "spend something")  # the budget is checked against what was spent
    expect(page.locator("#live")).to_have_text("Answer finished.")
    send(page, "spend more")
    card = page.locator(".msg.assistant .state-card.budget")
    expect(card).to_contain_text("Budget used up")
    expect(card).to_contain_text("daily budget of this key")
    expect(card).to_contain_text("resets at 00:00 UTC")
    expect(card.get_by_role("link", name="See my usage")).to_have_attribute("href", "/account")
    expect(card.get_by_role("button", name="Retry")).to_have_count(0)  # retrying cannot help
    assert web_gateway.fakes["chat"].count() == 1  # the refused one never went upstream
    both_widths(v, "state-budget")
    assert axe_violations(page) == []
    v.context.close()


def test_rate_limited_shows_the_wait_and_counts_down(browser: Any, web_gateway: Any) -> None:
    key = limited_key(web_gateway, rpm=1)
    v = Visit(browser, web_gateway, DESKTOP, key=key)
    page = open_chat(v)
    send(page, "first")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: first")
    send(page, "second")
    card = page.locator(".msg.assistant .state-card.rate").last
    expect(card).to_contain_text("Too many requests")
    expect(card).to_contain_text("1 request per minute")
    clock = card.locator(".state-clock")
    expect(clock).to_contain_text("You can send again in")
    first = int(re.search(r"again in (\d+) s", clock.inner_text()).group(1))  # type: ignore[union-attr]
    assert 1 <= first <= 60
    expect(card.get_by_role("button", name="Retry")).to_be_disabled()
    page.wait_for_function(
        f"() => !document.querySelector('.state-clock').textContent.includes('in {first} s')"
    )  # it counts down
    send(page, "third, too soon")
    # The card that counts down says it was not sent; no second countdown in a banner.
    expect(card.locator(".state-held")).to_have_text(
        "Not sent: your message stays in the box until then."
    )
    expect(card).to_have_class(re.compile(r"\bnudge\b"))
    expect(page.locator("#switch-warning")).to_be_hidden()
    expect(page.locator("#composer-input")).to_have_value("third, too soon")
    send(page, "third, too soon")  # again: still one line, not two
    expect(card.locator(".state-held")).to_have_count(1)
    both_widths(v, "state-rate-limited")
    assert axe_violations(page) == []
    v.context.close()


def test_no_routable_model_says_why_in_words(visit: Any) -> None:
    v = visit()
    page = open_chat(v)
    engine = v.gateway.state.gateway.engine
    engine.suspend(frozenset({"fakeai"}))  # its evidence changed after the page loaded
    try:
        send(page, "still there?")
        card = page.locator(".msg.assistant .state-card.unroutable")
        expect(card).to_contain_text("Nothing was sent")
        reasons = card.locator(".state-reasons")
        expect(reasons).to_contain_text("fakeai")
        expect(reasons).to_contain_text("evidence pages changed and await review")
        both_widths(v, "state-unroutable")
        card.get_by_role("button", name="Choose another model").click()
        page.get_by_role("combobox").fill("test chat")
        option = page.locator('[role=option][data-model="test/chat"]')
        expect(option).to_have_attribute("aria-disabled", "true")  # the list was refreshed
        assert axe_violations(page) == []
    finally:
        engine.suspend(frozenset())
    assert v.gateway.fakes["chat"].count() == 0  # type: ignore[attr-defined]


def test_an_image_that_failed_has_a_placeholder_and_a_retry(visit: Any) -> None:
    v = visit()
    page = open_chat(v, ("image broken", "test/image-broken"))
    media = v.gateway.fakes["media"]  # type: ignore[attr-defined]
    send(page, "a lighthouse")
    expect(page.locator(".image-failed")).to_be_visible()
    card = page.locator(".msg.assistant .state-card.image")
    expect(card).to_contain_text("The image could not be made")
    tried = len(media.requests)
    both_widths(v, "state-image-failed")
    assert axe_violations(page) == []
    card.get_by_role("button", name="Try the image again").click()
    expect(page.locator(".msg.assistant")).to_have_count(1)
    page.wait_for_function("() => document.querySelectorAll('.image-failed').length === 1")
    for _ in range(50):
        if len(media.requests) > tried:
            break
        page.wait_for_timeout(100)
    assert len(media.requests) > tried  # the retry went to the gateway again
    assert media.requests[-1].body["prompt"] == "a lighthouse"


def test_an_answer_cut_by_a_truncated_stream_is_shown_cut_with_retry(visit: Any) -> None:
    v = visit()
    page = open_chat(v, ("truncated", "test/truncated"))
    send(page, "tell me everything")
    answer = page.locator(".msg.assistant")
    expect(answer.locator(".state-card.cut")).to_contain_text("The answer was cut")
    expect(answer.locator(".cut-mark")).to_be_visible()
    faults = v.gateway.fakes["faults"]  # type: ignore[attr-defined]
    tried = faults.count("truncated_sse")
    both_widths(v, "state-cut")
    assert axe_violations(page) == []
    answer.get_by_role("button", name="Retry").click()
    expect(page.locator("#live")).to_have_text("The answer was cut.")
    assert faults.count("truncated_sse") == tried + 1
    expect(page.locator(".msg.assistant")).to_have_count(1)


def test_a_session_that_ended_keeps_the_message_until_signed_in_again(
    browser: Any, web_gateway: Any
) -> None:
    key = limited_key(web_gateway)
    v = Visit(browser, web_gateway, DESKTOP, key=None)
    page = v.open("/login")
    consent(page)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(web_gateway.url + "/")
    ready(page)
    choose(page, "test chat", "test/chat")
    v.context.clear_cookies()  # the session cookie expired: the browser dropped it
    send(page, "after expiry")
    banner = page.locator("#session-banner")
    expect(banner).to_be_visible()
    expect(page.locator("#composer-input")).to_have_value("after expiry")
    expect(page.locator(".msg")).to_have_count(0)
    both_widths(v, "state-session-ended")
    assert axe_violations(page) == []
    # Signing in again in another tab of the same browser, then Send here.
    other = v.context.new_page()
    other.goto(web_gateway.url + "/login?expired=1&next=/account")
    expect(other.locator("#login-note")).to_contain_text("Your session has ended")
    other.get_by_label("API key").fill(key)
    other.get_by_role("button", name="Sign in with the key").click()
    other.wait_for_url(web_gateway.url + "/account")
    other.close()
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: after expiry")
    expect(banner).to_be_hidden()
    assert v.foreign_requests() == []
    v.context.close()


def test_the_account_page_sends_an_ended_session_to_sign_in_and_back(
    browser: Any, web_gateway: Any
) -> None:
    from tests.browser.test_account_page import make_account  # noqa: PLC0415

    key = make_account(web_gateway)
    v = Visit(browser, web_gateway, PHONE, key=None)
    page = v.open("/login")
    consent(page)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(web_gateway.url + "/")
    page.goto(web_gateway.url + "/account")
    expect(page.locator("#profile-facts")).to_contain_text("ada@example.org")
    ready(page)  # every call of the page answered
    v.context.clear_cookies()  # the session expired while the page was open
    with page.expect_navigation(url=web_gateway.url + "/login?expired=1&next=/account"):
        page.get_by_role("button", name="Create key").click(no_wait_after=True)
    expect(page.locator("#login-note")).to_contain_text("Your session has ended")
    v.screenshot("state-session-ended-login-phone")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_url(web_gateway.url + "/account")
    expect(page.locator("#profile-facts")).to_contain_text("ada@example.org")
    assert axe_violations(page) == []
    v.context.close()
