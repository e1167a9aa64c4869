"""Every page: no serious accessibility violation (axe-core, vendored for tests only),
no request to any origin but the gateway's, screenshots at desktop and phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_chat_page import choose, consent, ready, send

from zdrgate.server.web import PAGES

AXE = (Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js").read_text()
SERIOUS = ("serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    # Evaluated through DevTools, not as a page script: the page's CSP stays as served.
    page.evaluate(AXE + "\n;0")
    result = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result
        if v["impact"] in SERIOUS
    ]


def shown_pages() -> list[str]:
    from zdrgate.server.web import STATIC_DIR  # noqa: PLC0415

    return [path for path, name in PAGES.items() if (STATIC_DIR / name).exists()]


@pytest.mark.parametrize("path", shown_pages())
def test_page_is_accessible_and_talks_only_to_the_gateway(visit: Any, path: str) -> None:
    name = path.strip("/") or "chat"
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        v = visit(viewport)
        page = v.open(path)
        expect(page.locator(".consent")).to_be_visible()
        assert axe_violations(page) == [], "with the consent banner open"
        consent(page, "Accept all")
        page.wait_for_load_state("networkidle")
        v.screenshot(f"{name}-{label}")
        assert axe_violations(page) == []
        assert v.foreign_requests() == []
        assert v.errors == []


def test_a_whole_chat_makes_no_request_beyond_the_gateway(visit: Any) -> None:
    v = visit()
    page = v.open("/")
    consent(page)
    ready(page)
    choose(page, "test chat", "test/chat")
    send(page, "![tracker](https://tracker.example/pixel.png) [a link](https://example.org)")
    expect(page.locator(".msg.assistant .msg-body")).to_contain_text("[image: tracker]")
    send(page, "$$\\int_0^1 x\\,dx$$")
    expect(page.locator(".msg.assistant .msg-body math")).to_have_count(1)
    assert axe_violations(page) == []
    assert v.foreign_requests() == []
    assert v.errors == []
