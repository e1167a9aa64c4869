"""The dispatcher (aiohttp, pooled keep-alive; see docs/decisions.md for why)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

import aiohttp

from zdrgate.adapters.base import ErrorKind, UpstreamCall
from zdrgate.catalog.model import Auth, Endpoint
from zdrgate.policy import Approval, verify

ERROR_BODY_LIMIT = 64 * 1024  # enough to classify an error; the rest is never read
_KEPT_HEADERS = ("retry-after", "retry-after-ms", "content-type")


class UpstreamFailure(Exception):
    """An attempt failed. Carries a kind and a status, never a body."""

    def __init__(self, kind: ErrorKind, endpoint_id: str, status: int | None = None) -> None:
        super().__init__(f"{endpoint_id}: {kind.value}" + (f" ({status})" if status else ""))
        self.kind = kind
        self.status = status


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: MappingProxyType[str, str]
    _response: aiohttp.ClientResponse

    async def read(self, limit: int | None = None) -> bytes:
        try:
            if limit is None:
                return await self._response.read()
            return await self._response.content.read(limit)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translated(exc, "read") from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._response.content.iter_any():
                yield data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translated(exc, "read") from exc


def auth_headers(endpoint: Endpoint) -> dict[str, str]:
    key = endpoint.provider.api_key or ""
    style = endpoint.provider.auth_style
    if style is Auth.BEARER:
        return {"authorization": f"Bearer {key}"}
    return {style.value: key}  # never in the URL: URLs end up in logs


def checked_url(endpoint: Endpoint, path: str) -> str:
    """The URL to request; refuses anything whose origin is not the endpoint's."""
    base = endpoint.base_url
    url = base + path
    want, got = urlsplit(base), urlsplit(url)
    if (want.scheme, want.netloc) != (got.scheme, got.netloc) or not got.path.startswith(want.path):
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    if got.scheme not in ("https", "http"):
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    return url


class Dispatcher:
    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._today = today
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trust_env=False,  # never read HTTP(S)_PROXY: a proxy would see every prompt
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @asynccontextmanager
    async def send(self, approval: Approval, call: UpstreamCall) -> AsyncIterator[UpstreamResponse]:
        """Send ``call`` to the approved endpoint; yields the response, closes it after."""
        endpoint = verify(approval, self._today()).endpoint
        url = checked_url(endpoint, call.path)
        headers = {**dict(call.headers), **auth_headers(endpoint)}
        session = self._require_session()
        try:
            request = session.request(
                call.method, url, data=call.body, headers=headers, allow_redirects=False
            )
            async with request as response:
                kept = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
                yield UpstreamResponse(response.status, MappingProxyType(kept), response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _translated(exc, endpoint.id) from exc

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Dispatcher.start() was not called")
        return self._session


def _translated(exc: BaseException, endpoint_id: str) -> UpstreamFailure:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return UpstreamFailure(ErrorKind.TIMEOUT, endpoint_id)
    if isinstance(exc, aiohttp.ClientConnectionError) and not isinstance(
        exc, aiohttp.ServerDisconnectedError
    ):
        return UpstreamFailure(ErrorKind.CONNECT_ERROR, endpoint_id)
    return UpstreamFailure(ErrorKind.SERVER_ERROR, endpoint_id)
