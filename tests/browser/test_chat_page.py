"""The chat page in Chromium: streaming, stop, images, the picker, safety of rendering."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from tests.browser.conftest import PHONE, png


def consent(page: Any, choice: str = "Accept all") -> None:
    page.get_by_role("button", name=choice, exact=True).click()
    expect(page.locator(".consent")).to_have_count(0)


def ready(page: Any) -> None:
    expect(page.locator("body[data-ready=true]")).to_have_count(1)


def choose(page: Any, query: str, model_id: str) -> None:
    page.locator(".model-button").click()
    page.get_by_role("combobox").fill(query)
    page.locator(f'[role=option][data-model="{model_id}"]').click()
    expect(page.locator(".model-button")).not_to_have_attribute("aria-expanded", "true")


def send(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")


def test_chat_round_trip_streams_an_answer_with_its_receipt(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    v.screenshot("chat-empty-desktop")
    choose(page, "test chat", "test/chat")
    send(page, "hello there")
    answer = page.locator(".msg.assistant").last
    expect(answer.locator(".msg-body")).to_contain_text("echo: hello there")
    expect(answer.locator(".receipt summary")).to_contain_text("Served by fakeai")
    expect(answer.locator(".receipt summary")).to_contain_text("verified 2026-11-01")
    expect(answer.locator(".receipt summary")).to_contain_text("receipt ✓")
    answer.locator(".receipt summary").click()
    expect(answer.locator(".receipt")).to_contain_text("sha256:")
    expect(answer.locator(".receipt")).to_contain_text("verified in this browser")
    expect(answer.locator(".receipt")).to_contain_text("from this request: authorization")
    expect(page.locator("#live")).to_have_text("Answer finished.")
    v.screenshot("chat-answer-desktop")
    assert v.foreign_requests() == []
    assert v.errors == []


def test_stop_mid_stream_keeps_what_arrived(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page, "Reject non-essential")
    ready(page)
    choose(page, "slow", "test/slow")
    send(page, "take your time")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator(".msg.assistant .waiting")).to_contain_text("Waiting for fakeai")
    fake = v.gateway.fakes["chat"]  # type: ignore[attr-defined]
    page.wait_for_function("() => new Promise((ok) => setTimeout(() => ok(true), 300))")
    assert fake.count("slow") == 1  # the stream is open: the upstream sent its first chunk
    page.keyboard.press("Escape")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator(".msg.assistant .msg-error")).to_have_text("Stopped before any answer.")
    expect(page.locator("#live")).to_have_text("Answer stopped.")
    for _ in range(50):  # stopping in the page hangs up on the gateway, which hangs up upstream
        if fake.disconnects:
            break
        page.wait_for_timeout(100)
    assert fake.disconnects == 1


def test_an_image_is_generated_shown_and_downloadable(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test image", "test/image")
    send(page, "a lighthouse at dusk")
    image = page.locator(".msg.assistant .images img")
    expect(image).to_have_count(1)
    page.wait_for_function(
        "() => document.querySelector('.msg.assistant .images img').naturalWidth === 48"
    )
    expect(page.locator(".msg.assistant .receipt summary")).to_contain_text("Served by fakeimg")
    expect(page.locator(".msg.assistant .receipt summary")).to_contain_text("receipt ✓")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename == "zdrgate-image-1.png"
    v.screenshot("chat-image-desktop")


def test_chat_image_output_is_shown_inline(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "draw", "test/draw")
    send(page, "draw me a cat")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("here it is")
    expect(page.locator(".msg.assistant .images img")).to_have_count(1)
    body = v.gateway.fakes["media"].requests[-1].body  # type: ignore[attr-defined]
    assert body["modalities"] == ["image", "text"]


def test_an_uploaded_image_is_sent_as_a_data_url(visit: Any, tmp_path: Any) -> None:
    picture = tmp_path / "photo.png"
    picture.write_bytes(png())
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "vision", "test/vision")
    page.locator("#attach").set_input_files(str(picture))
    expect(page.locator(".thumb img")).to_have_count(1)
    send(page, "what is in this picture")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text(
        "echo: what is in this picture"
    )
    sent = v.gateway.fakes["chat"].requests[-1].body  # type: ignore[attr-defined]
    parts = sent["messages"][-1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_the_picker_finds_a_model_among_hundreds_and_refuses_a_non_routable_one(
    visit: Any,
) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    models = page.evaluate("async () => (await (await fetch('/v1/models')).json()).data")
    assert len(models) >= 300
    refused = next(m for m in models if m["id"] == "openai/gpt-4o-mini")
    assert not refused["zdr"]["routable"] and refused["zdr"]["reason"]
    page.locator(".model-button").click()
    combo = page.get_by_role("combobox")
    expect(combo).to_be_focused()
    assert page.locator("[role=option]").count() < 60  # virtualized: only visible rows
    combo.fill("gpt-4o-mini")
    option = page.locator('[role=option][data-model="openai/gpt-4o-mini"]')
    expect(option).to_have_attribute("aria-disabled", "true")
    expect(option).to_contain_text(refused["zdr"]["reason"])
    v.screenshot("picker-desktop")
    option.click(force=True)  # aria-disabled: Playwright would wait for it to be enabled
    expect(page.locator(".picker-status")).to_contain_text(
        f"can't be used: {refused['zdr']['reason']}"
    )
    expect(page.locator(".model-button")).not_to_contain_text("GPT-4o-mini")
    combo.fill("test chat")
    combo.press("ArrowDown")
    combo.press("ArrowUp")
    combo.press("Enter")
    expect(page.locator(".model-button")).to_contain_text("Test Chat")


def test_model_text_with_script_or_onerror_is_shown_as_text(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    page.evaluate("() => { window.pwned = false; }")
    hostile = '<script>window.pwned = true</script> <img src=x onerror="window.pwned = true">'
    send(page, hostile)
    body = page.locator(".msg.assistant .msg-body")
    expect(body).to_contain_text("<script>window.pwned = true</script>")
    expect(body).to_contain_text('<img src=x onerror="window.pwned = true">')
    assert body.locator("script, img").count() == 0
    assert page.evaluate("() => window.pwned") is False
    assert v.foreign_requests() == []


def test_markdown_code_tables_and_math_render(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    send(page, "Here:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n$$x^2$$")
    body = page.locator(".msg.assistant .msg-body")
    expect(body.locator("table")).to_have_count(1)
    expect(body.locator(".code-block .copy-code")).to_have_count(1)
    expect(body.locator("math")).to_have_count(1)
    v.screenshot("chat-markdown-desktop")


def test_regenerate_and_edit_and_resend(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    send(page, "first try")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: first try")
    page.get_by_role("button", name="Regenerate").click()
    expect(page.locator("#live")).to_have_text("Answer finished.")
    expect(page.locator(".msg.assistant")).to_have_count(1)
    page.locator(".msg.user").get_by_role("button", name="Edit").click()
    page.locator(".edit-area").fill("second try")
    page.get_by_role("button", name="Save and send").click()
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: second try")
    expect(page.locator(".msg.user")).to_have_count(1)
    fake = v.gateway.fakes["chat"]  # type: ignore[attr-defined]
    assert [m["content"] for m in fake.requests[-1].body["messages"]] == ["second try"]


def test_phone_layout(visit: Any) -> None:
    v = visit(PHONE)
    page = v.open("/")
    v.screenshot("consent-phone")
    consent(page)
    ready(page)
    v.screenshot("chat-empty-phone")
    choose(page, "test chat", "test/chat")
    send(page, "hello from a phone")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("echo: hello from a phone")
    v.screenshot("chat-answer-phone")
    page.get_by_role("button", name="Conversations").click()
    v.screenshot("chat-sidebar-phone")


def test_a_receipt_that_does_not_verify_says_so(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    page.route("**/.well-known/jwks.json", lambda route: route.fulfill(json={"keys": []}))
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    send(page, "check me")
    summary = page.locator(".msg.assistant .receipt summary")
    expect(summary).to_contain_text("receipt NOT verified")
    summary.click()
    expect(page.locator(".msg.assistant .receipt")).to_contain_text(
        "signed by a key the gateway does not publish"
    )


def test_switching_to_a_model_of_another_provider_is_announced(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    send(page, "first with fakeai")
    expect(page.locator("#live")).to_have_text("Answer finished.")
    expect(page.locator("#switch-warning")).to_be_hidden()
    choose(page, "draw", "test/draw")
    warning = page.locator("#switch-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("went to fakeai")
    expect(warning).to_contain_text("will go to fakeimg")
    v.screenshot("chat-switch-warning-desktop")
    choose(page, "vision", "test/vision")  # same provider as before: nothing to say
    expect(warning).to_be_hidden()


def test_an_answer_cut_by_the_upstream_is_shown_as_cut(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test broken", "test/broken")
    send(page, "break please")
    error = page.locator(".msg.assistant .state-card.cut")
    expect(error).to_contain_text("The answer was cut")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("one two")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
