"""The dispatcher: approval re-check, origin check, credentials, then the pooled client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import SplitResult, urlsplit

from zdrgate.adapters.base import ErrorKind, UpstreamCall
from zdrgate.catalog.model import Auth, Endpoint
from zdrgate.policy import Approval, verify
from zdrgate.upstream import http1

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
    _response: http1.Response
    _endpoint_id: str

    async def read(self, limit: int | None = None) -> bytes:
        try:
            return await self._response.read(limit)
        except http1.HTTPClientError as exc:
            raise _translated(exc, self._endpoint_id) from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        try:
            async for data in self._response.iter_chunks():
                yield data
        except http1.HTTPClientError as exc:
            raise _translated(exc, self._endpoint_id) from exc


def auth_headers(endpoint: Endpoint) -> dict[str, str]:
    key = endpoint.provider.api_key or ""
    style = endpoint.provider.auth_style
    if style is Auth.BEARER:
        return {"authorization": f"Bearer {key}"}
    return {style.value: key}  # never in the URL: URLs end up in logs


def checked_url(endpoint: Endpoint, path: str) -> tuple[http1.Origin, str]:
    """Where to send: the endpoint's origin and the request target. Refuses any
    path that would leave the endpoint's origin or base path."""
    base = _split_base(endpoint.base_url)
    got = urlsplit(endpoint.base_url + path)
    if base is None or (got.scheme, got.netloc) != (base.scheme, base.netloc):
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    if not got.path.startswith(base.path) or got.fragment:
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    origin = _origin(base)
    target = (got.path or "/") + (f"?{got.query}" if got.query else "")
    return origin, target


@lru_cache(maxsize=4096)
def _split_base(base_url: str) -> SplitResult | None:
    try:
        base = urlsplit(base_url)
        base.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if base.scheme not in ("https", "http") or not base.hostname or base.username is not None:
        return None
    return base


def _origin(base: SplitResult) -> http1.Origin:
    assert base.hostname is not None
    port = base.port or (443 if base.scheme == "https" else 80)
    return http1.Origin(base.scheme, base.hostname, port)


class Dispatcher:
    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._today = today
        self._client: http1.Client | None = None

    async def start(self) -> None:
        self._client = http1.Client(self._connect_timeout, self._read_timeout)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @asynccontextmanager
    async def send(self, approval: Approval, call: UpstreamCall) -> AsyncIterator[UpstreamResponse]:
        """Send ``call`` to the approved endpoint; yields the response, closes it after."""
        endpoint = verify(approval, self._today()).endpoint
        origin, target = checked_url(endpoint, call.path)
        headers = {**dict(call.headers), **auth_headers(endpoint)}
        client = self._require_client()
        try:
            conn, response = await client.request(
                origin, call.method, target, headers.items(), call.body
            )
        except (http1.HTTPClientError, ValueError) as exc:
            raise _translated(exc, endpoint.id) from exc
        try:
            kept = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
            yield UpstreamResponse(response.status, MappingProxyType(kept), response, endpoint.id)
        finally:
            client.release(origin, conn)

    def _require_client(self) -> http1.Client:
        if self._client is None:
            raise RuntimeError("Dispatcher.start() was not called")
        return self._client


def _translated(exc: Exception, endpoint_id: str) -> UpstreamFailure:
    if isinstance(exc, (http1.ConnectTimeout, http1.ReadTimeout)):
        return UpstreamFailure(ErrorKind.TIMEOUT, endpoint_id)
    if isinstance(exc, http1.ConnectFailed):
        return UpstreamFailure(ErrorKind.CONNECT_ERROR, endpoint_id)
    if isinstance(exc, (http1.MalformedResponse, ValueError)):
        return UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint_id)
    return UpstreamFailure(ErrorKind.SERVER_ERROR, endpoint_id)
