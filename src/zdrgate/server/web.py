"""The web app: its pages, its static files and the public catalog facts they read.

Everything the browser runs ships in the package (``zdrgate/web/static``): plain ES
modules and CSS, no build step. The files are read once when the app is built and kept
in memory with a gzip copy, so serving them touches no disk and costs no compression
per request. Every response carries a strict Content-Security-Policy: scripts, styles,
fonts and connections only from this origin, no inline script or style, no frames.

The chat page talks to the same ``/v1`` API as any client; nothing here serves a
prompt. ``/public/*`` is read-only catalog data, readable without signing in.

Usage::

    web = WebApp.load(settings.web)
    routes = web.routes()          # added to the Starlette app by the app factory
"""

from __future__ import annotations

import gzip
import hashlib
import html
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zdrgate.errors import GatewayError, NotFound
from zdrgate.server.identity import identify
from zdrgate.server.public_views import models_document, privacy_document
from zdrgate.server.responses import JSONBytes
from zdrgate.server.state import AppState

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
PAGES = {
    "/": "index.html",
    "/models": "models.html",
    "/privacy": "privacy.html",
    "/login": "login.html",
    "/account": "account.html",
    "/admin": "admin.html",
}
ADMIN_PAGES = frozenset({"/admin"})
"""Pages a signed-in caller who is not an admin gets with 403 (the page then says
"Admins only"; every call it would make is refused by the admin API as well)."""
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}
_COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".svg", ".json")


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str

    @classmethod
    def read(cls, path: Path, site_name: str) -> Asset:
        body = path.read_bytes()
        if path.suffix == ".html":  # the only templating: the operator's site name
            body = body.replace(b"{{site_name}}", html.escape(site_name).encode())
        kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        kind = kind or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith(("javascript", "json")):
            kind += "; charset=utf-8"
        packed = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        return cls(body, packed, kind, etag)

    def response(self, request: Request, status: int = 200) -> Response:
        headers = {**SECURITY_HEADERS, "etag": self.etag, "cache-control": "no-cache"}
        if status != 200:
            headers = {**SECURITY_HEADERS, "cache-control": "no-store"}
        elif request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        headers["vary"] = "accept-encoding"
        body = self.body
        if self.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped
            headers["content-encoding"] = "gzip"
        return Response(body, status, media_type=self.content_type, headers=headers)


@dataclass
class WebApp:
    assets: dict[str, Asset]

    @classmethod
    def load(cls, site_name: str, root: Path = STATIC_DIR) -> WebApp:
        assets = {
            str(path.relative_to(root)): Asset.read(path, site_name)
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
        }
        return cls(assets)

    def routes(self) -> list[Route]:
        table = [
            Route(path, self.page, methods=["GET", "HEAD"])
            for path, name in PAGES.items()
            if name in self.assets
        ]
        table.append(Route("/static/{path:path}", self.static, methods=["GET", "HEAD"]))
        table.append(Route("/public/models", self.public_models, methods=["GET"]))
        table.append(Route("/public/privacy", self.public_privacy, methods=["GET"]))
        return table

    async def page(self, request: Request) -> Response:
        path = request.url.path
        status = 403 if path in ADMIN_PAGES and await _signed_in_not_admin(request) else 200
        return self.assets[PAGES[path]].response(request, status)

    async def static(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["path"])
        if asset is None or request.path_params["path"].endswith(".html"):
            raise NotFound(f"Unknown route: {request.method} {request.url.path}")
        return asset.response(request)

    async def public_models(self, request: Request) -> JSONBytes:
        return self._document(request, "models", models_document)

    async def public_privacy(self, request: Request) -> JSONBytes:
        return self._document(request, "privacy", privacy_document)

    def _document(
        self, request: Request, name: str, build: Callable[[AppState], dict[str, Any]]
    ) -> JSONBytes:
        # Rendered once per state of routability (catalog, policy engine, day, providers
        # under review: ``server.listing_cache``), never staler than the decisions.
        state: AppState = request.app.state.zdrgate
        rendered = state.documents.get(f"public-{name}", state.gateway, lambda: build(state))
        headers = request.headers
        return rendered.response(
            headers.get("if-none-match"), headers.get("accept-encoding"), SECURITY_HEADERS
        )


async def _signed_in_not_admin(request: Request) -> bool:
    """Whether the request carries a valid key or session that is not an admin's. No
    credentials (or bad ones) is not a refusal here: the page asks the person to sign in."""
    state: AppState = request.app.state.zdrgate
    try:
        principal = await identify(state, request.scope)
    except GatewayError:
        return False
    return not principal.is_admin
