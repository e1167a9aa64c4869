"""The dispatcher: approval re-check, origin check, credentials, then the pooled client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from zdrgate.catalog.model import Auth, Endpoint
from zdrgate.policy import Approval, verify
from zdrgate.protocols import UpstreamCall, spec_for
from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream import evidence, http1

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
    """Status, the few headers the gateway keeps, and the body; read errors arrive
    as :class:`UpstreamFailure`."""

    status: int
    headers: MappingProxyType[str, str]
    _response: http1.Response

    def read(self, limit: int | None = None) -> Awaitable[bytes]:
        return self._response.read(limit)

    def iter_chunks(self) -> AsyncIterator[bytes]:
        return self._response.iter_chunks()


def auth_headers(endpoint: Endpoint) -> dict[str, str]:
    key = endpoint.provider.api_key or ""
    style = endpoint.provider.auth or spec_for(endpoint.provider.protocol).auth
    if style is Auth.BEARER:
        return {"authorization": f"Bearer {key}"}
    return {style.value: key}  # never in the URL: URLs end up in logs


def checked_url(endpoint: Endpoint, path: str) -> tuple[http1.Origin, str]:
    """Where to send: the endpoint's origin and the request target. Refuses any
    path that would leave the endpoint's origin or base path."""
    target = _target(endpoint.base_url, path)
    if target is None:
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    return target


@lru_cache(maxsize=8192)
def _target(base_url: str, path: str) -> tuple[http1.Origin, str] | None:
    try:
        base, got = urlsplit(base_url), urlsplit(base_url + path)
        port = base.port  # raises on a malformed port
    except ValueError:
        return None
    if base.scheme not in ("https", "http") or not base.hostname or base.username is not None:
        return None
    if (got.scheme, got.netloc) != (base.scheme, base.netloc) or got.fragment:
        return None
    if not _under(got.path, base.path):
        return None
    port = port or (443 if base.scheme == "https" else 80)
    origin = http1.Origin(base.scheme, base.hostname, port)
    return origin, (got.path or "/") + (f"?{got.query}" if got.query else "")


def _under(path: str, prefix: str) -> bool:
    """``path`` stays under ``prefix`` as a server would read it: no dot segment, plain
    or percent-encoded (even twice: ``/v1/../x``, ``/v1/%2e%2e/x``, ``/v1/%252e%252e/x``),
    no backslash, and the prefix ends at a segment (``/v1`` does not cover ``/v1x``)."""
    decoded = path
    for _ in range(3):  # a server or a proxy in front of it may decode more than once
        decoded = unquote(decoded)
    if "\\" in decoded or any(s in (".", "..") for s in decoded.split("/")):
        return False
    prefix = prefix.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


class Dispatcher:
    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        today: Callable[[], dt.date] = dt.date.today,
        max_response_bytes: int = http1.MAX_BODY_BYTES,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_response_bytes = max_response_bytes
        self._today = today
        self._client: http1.Client | None = None

    async def start(self) -> None:
        self._client = http1.Client(
            self._connect_timeout, self._read_timeout, max_body_bytes=self._max_response_bytes
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def send(self, approval: Approval, call: UpstreamCall) -> Exchange:
        """``async with dispatcher.send(approval, call) as response``: sends ``call`` to
        the approved endpoint; the connection is released when the block ends."""
        endpoint = verify(approval, self._today()).endpoint
        origin, target = checked_url(endpoint, call.path)
        return Exchange(self._require_client(), endpoint, origin, target, call)

    async def fetch_evidence(self, url: str, allowed: frozenset[str]) -> tuple[int, bytes]:
        """Status and body of an evidence page (``upstream.evidence``: only URLs whose
        origin is in ``allowed``, no credentials, no redirects followed). Raises
        :class:`UpstreamFailure` or ``EvidenceRefused``."""
        try:
            return await evidence.fetch_page(self._require_client(), url, allowed)
        except (http1.HTTPClientError, ValueError) as exc:
            raise UpstreamFailure(evidence.failure_kind(exc), "evidence") from exc

    def _require_client(self) -> http1.Client:
        if self._client is None:
            raise RuntimeError("Dispatcher.start() was not called")
        return self._client


class Exchange:
    """One request and its response (a class, not ``@asynccontextmanager``: this is
    on every request, and the generator machinery cost more than the rest of it)."""

    __slots__ = ("_call", "_client", "_conn", "_endpoint", "_origin", "_target")

    def __init__(
        self, client: http1.Client, endpoint: Endpoint, origin: http1.Origin, target: str,
        call: UpstreamCall,
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._origin = origin
        self._target = target
        self._call = call
        self._conn: http1.Connection | None = None

    async def __aenter__(self) -> UpstreamResponse:
        call, endpoint = self._call, self._endpoint
        headers = {**dict(call.headers), **auth_headers(endpoint)}.items()
        try:
            self._conn, response = await self._client.request(
                self._origin, call.method, self._target, headers, call.body
            )
        except (http1.HTTPClientError, ValueError) as exc:
            raise _translated(exc, endpoint.id) from exc
        response.translate = partial(_translated, endpoint_id=endpoint.id)
        kept = {k: response.headers[k] for k in _KEPT_HEADERS if k in response.headers}
        return UpstreamResponse(response.status, MappingProxyType(kept), response)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._client.release(self._origin, self._conn)
            self._conn = None


def _translated(exc: Exception, endpoint_id: str) -> UpstreamFailure:
    if isinstance(exc, (http1.ConnectTimeout, http1.ReadTimeout)):
        return UpstreamFailure(ErrorKind.TIMEOUT, endpoint_id)
    if isinstance(exc, http1.ConnectFailed):
        return UpstreamFailure(ErrorKind.CONNECT_ERROR, endpoint_id)
    if isinstance(exc, (http1.MalformedResponse, ValueError)):
        return UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint_id)
    return UpstreamFailure(ErrorKind.SERVER_ERROR, endpoint_id)
