"""Browser tests: Debian's Chromium driven by Playwright against a gateway on loopback.

The gateway serves the shipped catalog (400+ models, most not routable here: no
credentials) plus fake providers on 127.0.0.1: ``test/chat`` (streams an echo of the
prompt), ``test/slow`` (one chunk, then waits), ``test/vision`` (reads images),
``test/image`` (the images API) and ``test/draw`` (chat image output).

Until the sign-in routes exist, the browser context carries the test key as an
Authorization header (Playwright's extra_http_headers): a hook of the tests only, never
shipped in a page. Screenshots go to tests/browser/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import MASTER, ZDR_POLICY, GatewayFactory, RunningGateway
from fake_faults import FaultyUpstream
from fake_media import start_fake_media
from fake_openai import start_fake_openai
from zdrgate.catalog.load import load_packaged_catalog

SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def png(width: int = 48, height: int = 48) -> bytes:
    """A real PNG (a colour gradient), so the browser can decode what the fake serves."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 5 % 256, y * 5 % 256, 180))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# Module scope: Playwright's sync API keeps an event loop running in this thread while
# it is started, which pytest-asyncio's tests after these ones cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is not installed (scripts/test installs it)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - heavy, tests only

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def web_gateway(make_gateway: GatewayFactory) -> Iterator[RunningGateway]:
    chat, chat_server = start_fake_openai()
    media, media_server = start_fake_media(image=png())
    faults = FaultyUpstream().start()

    def fake(base: str, models: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "protocol": "openai",
            "base_url": base,
            "api_key": "k",
            "policy": ZDR_POLICY,
            "models": models,
        }

    text = {"input_modalities": ["text"], "prompt_price": 0.5, "completion_price": 1.5}
    providers = {
        "fakeai": fake(
            chat.base_url,
            [
                {"id": "test/chat", "upstream_id": "ok", "name": "Test Chat", **text},
                {"id": "test/slow", "upstream_id": "slow", "name": "Test Slow", **text},
                {"id": "test/broken", "upstream_id": "break", "name": "Test Broken", **text},
                {
                    **text,
                    "id": "test/vision",
                    "upstream_id": "ok",
                    "name": "Test Vision",
                    "input_modalities": ["text", "image"],
                },
            ],
        ),
        "fakeimg": fake(
            media.openai_url,
            [
                {
                    "id": "test/image",
                    "upstream_id": "gpt-image-1",
                    "name": "Test Image",
                    "output_modalities": ["image"],
                    "image_price": 0.04,
                },
                {
                    "id": "test/image-broken",
                    "upstream_id": "fail500",
                    "name": "Test Image Broken",
                    "output_modalities": ["image"],
                    "image_price": 0.04,
                },
                {
                    "id": "test/draw",
                    "upstream_id": "draw",
                    "name": "Test Draw",
                    "output_modalities": ["text", "image"],
                },
            ],
        ),
    }
    providers["faulty"] = fake(
        faults.base_url,
        [{**text, "id": "test/truncated", "upstream_id": "truncated_sse", "name": "Truncated"}],
    )
    gateway = make_gateway(
        providers,
        catalog=load_packaged_catalog(),
        extra={"web": {"operator_name": "Example Ops", "operator_contact": "privacy@example.org"}},
    )
    gateway.fakes = {"chat": chat, "media": media, "faults": faults}  # type: ignore[attr-defined]
    yield gateway
    chat_server.stop()
    media_server.stop()
    faults.stop()


class Visit:
    """A browser context on the gateway that records every request the pages make."""

    def __init__(
        self,
        browser: Any,
        gateway: RunningGateway,
        viewport: dict[str, int],
        key: str | None = MASTER,
        base: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.base = base or gateway.url  # e.g. http://localhost:port (passkeys need a name)
        self.context = browser.new_context(
            viewport=viewport,
            extra_http_headers={"Authorization": f"Bearer {key}"} if key else {},
            accept_downloads=True,
        )
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # A fetch answered 401/404 is logged by Chromium; the page handles those itself,
        # and _response below catches a missing file of its own.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def open(self, path: str = "/") -> Any:
        self.page.goto(self.base + path)
        return self.page

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        # Transitions finished first: a layout caught mid-slide is not what people see.
        path = str(SCREENSHOTS / f"{name}.png")
        self.page.screenshot(path=path, full_page=False, animations="disabled")

    def foreign_requests(self) -> list[str]:
        origin = self.base
        return [u for u in self.requests if not u.startswith((origin + "/", "data:", "blob:"))]


@pytest.fixture
def visit(browser: Any, web_gateway: RunningGateway) -> Iterator[Any]:
    visits: list[Visit] = []

    def make(viewport: dict[str, int] | None = None) -> Visit:
        made = Visit(browser, web_gateway, viewport or DESKTOP)
        visits.append(made)
        return made

    yield make
    for made in visits:
        made.context.close()
