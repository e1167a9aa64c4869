"""The models and privacy pages: readable without signing in, from the catalog."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, MASTER, PHONE
from tests.browser.test_chat_page import consent


def anonymous(browser: Any, gateway: Any, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport)  # no key, no session
    return context, context.new_page()


def model_count(gateway: Any) -> int:
    """How many models the gateway lists: the shipped catalog's and the fakes'."""
    reply = httpx.get(gateway.v1 + "/models", headers={"authorization": f"Bearer {MASTER}"})
    return len(reply.json()["data"])


def test_models_page_compares_endpoints_without_signing_in(browser: Any, web_gateway: Any) -> None:
    total = model_count(web_gateway)
    assert total > 400
    context, page = anonymous(browser, web_gateway)
    page.goto(web_gateway.url + "/models")
    consent(page)
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("#count")).to_have_text(f"8 of {total} models")  # routable now: the fakes
    page.locator("#f-routable").select_option("all")
    page.locator("#q").fill("gpt-4o-mini")
    row = page.locator('tr[data-model="openai/gpt-4o-mini"]')
    expect(row).to_contain_text("Not routable")
    row.get_by_role("button", name="Details").click()
    detail = page.locator('[id="detail-openai/gpt-4o-mini"]')
    expect(detail.locator("svg.chart")).to_have_count(1)
    expect(detail.locator("svg.chart title").first).to_contain_text("Retention per endpoint")
    evidence = detail.locator("a[href^='https://']").first
    expect(evidence).to_have_attribute("rel", "noopener noreferrer")
    expect(detail.locator("tbody tr").first).to_contain_text("20")  # a verified date
    page.screenshot(path=str(_shots() / "models-detail-desktop.png"))
    page.locator("#q").fill("")
    page.locator("#f-modality").select_option("image")
    expect(page.locator("#models-body")).to_contain_text("Test Image")
    expect(page.locator("#models-body")).not_to_contain_text("Test Chat")
    page.locator("#f-modality").select_option("")
    page.locator("#f-provider").select_option("fakeai")
    expect(page.locator("#count")).to_contain_text(f"4 of {total}")
    page.get_by_role("button", name="Cheapest ZDR price").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Cheapest ZDR price")
    context.close()


def test_privacy_page_lists_subprocessors_operator_and_storage(
    browser: Any, web_gateway: Any
) -> None:
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page = anonymous(browser, web_gateway, viewport)
        page.goto(web_gateway.url + "/privacy")
        consent(page, "Reject non-essential")
        expect(page.locator("body[data-ready=true]")).to_have_count(1)
        table = page.locator("#subprocessor-table tbody")
        expect(table.locator("tr")).to_have_count(3)  # the three fake providers, nothing else
        expect(table).to_contain_text("fakeai")
        expect(table).to_contain_text("2026-11-01")
        expect(page.locator("#operator")).to_contain_text("privacy@example.org")
        for key in ("zdr_session", "zdrgate.consent", "zdrgate.models", "zdrgate-history"):
            expect(page.locator("#storage-tables")).to_contain_text(key)
        page.screenshot(path=str(_shots() / f"privacy-full-{label}.png"), full_page=True)
        assert MASTER not in page.content()
        context.close()


def _shots() -> Any:
    from tests.browser.conftest import SCREENSHOTS  # noqa: PLC0415

    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS
