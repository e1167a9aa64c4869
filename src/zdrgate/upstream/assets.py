"""Fetching images the gateway has to inline: the only non-dispatch network I/O.

Two kinds of fetch, each with size and content-type limits, no redirects, no
cookies, no proxy from the environment and no content decoding (a gzip "image" is
refused, never inflated: a zip bomb stays 20 MiB of nothing):

- :meth:`AssetFetcher.provider_asset`: an image URL an upstream answered with. Only
  origins listed in the provider's ``asset_origins`` are fetched; no credentials
  are sent (such URLs are pre-signed).
- :meth:`AssetFetcher.public_image`: a client's ``image_url`` that a protocol needs
  inline (Gemini, self-hosted endpoints). ``https`` only, and never to a private,
  loopback or link-local address, however the host is written: numeric hosts are
  read as ``inet_aton`` would and every address a name resolves to is checked (see
  ``addresses``).

All fetches of one request share a :class:`FetchBudget` (``max_request_bytes``), and
at most ``max_concurrent`` fetches run at once in the process; a fetch waiting for a
slot counts against its timeout.

Bytes stay in memory and are returned to the caller; nothing touches disk.
Failures raise :class:`AssetRefused` with a reason code and never the URL, which
can itself be content.

Usage::

    fetcher = AssetFetcher(FetchRules(max_bytes=20 * 2**20))
    budget = fetcher.budget()  # one per client request
    asset = await fetcher.public_image("https://example.com/cat.png", budget)
    asset.data_url()   # "data:image/png;base64,..."
    await fetcher.close()
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.resolver import DefaultResolver

from zdrgate.catalog.model import Provider
from zdrgate.upstream.addresses import (
    AddressCheck,
    AddressRefused,
    GuardedResolver,
    host_address,
    public_address,
)

IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif"}
)
_CHUNK = 64 * 1024


class AssetRefused(Exception):
    """An image URL was not fetched. ``reason`` is a code; the URL is never kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchRules:
    """Limits of every fetch. Tests may widen ``schemes`` and ``address_allowed``."""

    max_bytes: int = 20 * 1024 * 1024  # one image
    max_request_bytes: int = 32 * 1024 * 1024  # all images of one request
    max_concurrent: int = 16  # fetches in flight in the process
    content_types: frozenset[str] = IMAGE_TYPES
    timeout_seconds: float = 30.0
    schemes: frozenset[str] = frozenset({"https"})  # for client-supplied URLs
    address_allowed: AddressCheck = field(default=public_address)


@dataclass(slots=True)
class FetchBudget:
    """Bytes the fetches of one client request may still read (shared, mutable)."""

    remaining: int


@dataclass(frozen=True, slots=True)
class Asset:
    mime_type: str
    # The receive buffer itself: no copy into ``bytes`` (an image can be 20 MiB).
    data: bytes | bytearray = field(repr=False)

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{self.b64()}"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL without userinfo, else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class AssetFetcher:
    def __init__(self, rules: FetchRules | None = None) -> None:
        self.rules = rules or FetchRules()
        self._plain: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(self.rules.max_concurrent)

    def budget(self) -> FetchBudget:
        """A fresh byte budget, to share between the fetches of one client request."""
        return FetchBudget(self.rules.max_request_bytes)

    async def provider_asset(
        self, provider: Provider, url: str, budget: FetchBudget | None = None
    ) -> Asset:
        """An image at one of ``provider.asset_origins``."""
        origin = origin_of(url)
        allowed = {o.rstrip("/").lower() for o in provider.asset_origins}
        if origin is None or origin not in allowed:
            raise AssetRefused("origin_not_allowed")
        if self._plain is None:
            self._plain = self._session(aiohttp.TCPConnector())
        return await self._get(self._plain, url, budget or self.budget())

    async def public_image(self, url: str, budget: FetchBudget | None = None) -> Asset:
        """A client's image URL, fetched only from a public address."""
        parts = urlsplit(url)
        if parts.scheme not in self.rules.schemes or origin_of(url) is None:
            raise AssetRefused("scheme_not_allowed")
        self._check_host(parts.hostname or "")
        if self._guarded is None:
            resolver = GuardedResolver(DefaultResolver(), self.rules.address_allowed)
            self._guarded = self._session(
                aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
            )
        return await self._get(self._guarded, url, budget or self.budget())

    def _check_host(self, host: str) -> None:
        """Numeric hosts are checked as the address a socket library reads them as,
        and refused unless written canonically (no second reading can differ)."""
        try:
            found = host_address(host)
        except ValueError:
            raise AssetRefused("address_not_allowed") from None
        if found is None:
            return  # a name: the guarded resolver checks what it resolves to
        address, canonical = found
        if not self.rules.address_allowed(address):
            raise AssetRefused("address_not_allowed")
        if not canonical:
            raise AssetRefused("host_not_canonical")

    async def close(self) -> None:
        for session in (self._plain, self._guarded):
            if session is not None:
                await session.close()
        self._plain = self._guarded = None

    def _session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.rules.timeout_seconds),
            trust_env=False,  # a proxy from the environment would see every image
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent",),
            auto_decompress=False,  # an encoded body is refused, never inflated
        )

    async def _get(self, session: aiohttp.ClientSession, url: str, budget: FetchBudget) -> Asset:
        if budget.remaining <= 0:
            raise AssetRefused("request_budget_exceeded")
        headers = {"accept": "image/*", "accept-encoding": "identity"}
        try:
            async with asyncio.timeout(self.rules.timeout_seconds), self._slots:
                request = session.get(url, allow_redirects=False, headers=headers)
                async with request as response:
                    return await self._read(response, budget)
        except AssetRefused:
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AssetRefused(_reason(exc)) from None

    async def _read(self, response: aiohttp.ClientResponse, budget: FetchBudget) -> Asset:
        if 300 <= response.status < 400:
            raise AssetRefused("redirect_refused")
        if response.status != 200:
            raise AssetRefused(f"http_{response.status}")
        mime = response.content_type.lower()
        if mime not in self.rules.content_types:
            raise AssetRefused("content_type_not_allowed")
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            raise AssetRefused("content_encoding_not_allowed")
        limit = min(self.rules.max_bytes, budget.remaining)
        over = "too_large" if limit == self.rules.max_bytes else "request_budget_exceeded"
        declared = response.content_length
        if declared is not None and declared > limit:
            raise AssetRefused(over)
        buffer = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            budget.remaining -= len(chunk)
            buffer += chunk
            if len(buffer) > limit:
                raise AssetRefused(over)
        return Asset(mime, buffer)


def _reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, AddressRefused):
            return "address_not_allowed"
        cause = cause.__cause__ or getattr(cause, "os_error", None)
    return "timeout" if isinstance(exc, TimeoutError) else "unreachable"
