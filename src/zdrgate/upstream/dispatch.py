"""The dispatcher: approval re-check, origin check, credentials, then the transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from zdrgate.catalog.aws import region_of_host
from zdrgate.catalog.model import Auth, AwsCredentials, Endpoint
from zdrgate.policy import Approval, verify
from zdrgate.protocols import UpstreamCall, spec_for
from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream import evidence, http1, sigv4
from zdrgate.upstream.aws_keys import AwsKeyCache
from zdrgate.upstream.oauth import TokenCache
from zdrgate.upstream.transport import (
    HTTP1Transport,
    Origin,
    Transport,
    UpstreamFailure,
    UpstreamResponse,
)

ERROR_BODY_LIMIT = 64 * 1024  # enough to classify an error; the rest is never read


def auth_headers(endpoint: Endpoint) -> dict[str, str]:
    """The credential header of a key-carrying style (every ``Auth`` but SigV4)."""
    key = endpoint.provider.api_key or ""
    style = endpoint.provider.auth or spec_for(endpoint.provider.protocol).auth
    if style is Auth.BEARER:
        return {"authorization": f"Bearer {key}"}
    return {style.value: key}  # never in the URL: URLs end up in logs


def signature(
    endpoint: Endpoint, origin: Origin, target: str, call: UpstreamCall,
    keys: AwsCredentials, now: dt.datetime,
) -> dict[str, str]:
    """A SigV4 signature over the method, host, target, the call's headers and body, for
    the Region the host names, else the provider's ``aws_region``."""
    provider = endpoint.provider
    service = spec_for(provider.protocol).signing_name
    region = region_of_host(origin.host) or provider.aws_region
    host = origin.host_header.decode()
    return sigv4.sign(
        keys, region, service, call.method, host, target, dict(call.headers), call.body, now
    )


def checked_url(endpoint: Endpoint, path: str) -> tuple[Origin, str]:
    """Where to send: the endpoint's origin and the request target. Refuses any
    path that would leave the endpoint's origin or base path."""
    target = _target(endpoint.base_url, path)
    if target is None:
        raise UpstreamFailure(ErrorKind.PROTOCOL_ERROR, endpoint.id)
    return target


@lru_cache(maxsize=8192)
def _target(base_url: str, path: str) -> tuple[Origin, str] | None:
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
    origin = Origin(base.scheme, base.hostname, port)
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
    """Sends approved calls through one :class:`~zdrgate.upstream.transport.Transport`
    (the pooled HTTP/1.1 client unless another is given)."""

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        today: Callable[[], dt.date] = dt.date.today,
        max_response_bytes: int = http1.MAX_BODY_BYTES,
        transport: Transport | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._today = today
        self.clock = clock  # SigV4 signs the time of sending
        self.transport = transport or HTTP1Transport(
            connect_timeout, read_timeout, max_response_bytes
        )
        self.tokens = TokenCache(self.transport)  # Auth.OAUTH providers' bearer tokens
        self.aws_keys = AwsKeyCache(self.transport)  # temporary AWS keys (IRSA, containers)

    async def start(self) -> None:
        await self.transport.start()

    async def close(self) -> None:
        await self.transport.close()

    async def credentials(
        self, endpoint: Endpoint, origin: Origin, target: str, call: UpstreamCall
    ) -> dict[str, str]:
        """The headers that authenticate ``call``, in its provider's style: a key; a
        token obtained and renewed here (OAuth); or a SigV4 signature with the provider's
        AWS keys, or temporary ones obtained and renewed here."""
        provider = endpoint.provider
        if provider.auth is Auth.OAUTH:
            return {"authorization": f"Bearer {await self.tokens.token(provider)}"}
        if provider.auth is not Auth.AWS_SIGV4:
            return auth_headers(endpoint)
        keys = provider.aws_credentials
        if keys is None and provider.aws_source is not None:
            keys = await self.aws_keys.keys(provider)
        if keys is None:  # the policy makes such endpoints unroutable
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, endpoint.id)
        return signature(endpoint, origin, target, call, keys, self.clock())

    def send(self, approval: Approval, call: UpstreamCall) -> Exchange:
        """``async with dispatcher.send(approval, call) as response``: sends ``call`` to
        the approved endpoint; the connection is released when the block ends."""
        endpoint = verify(approval, self._today()).endpoint
        origin, target = checked_url(endpoint, call.path)
        return Exchange(self, endpoint, origin, target, call)

    async def fetch_evidence(self, url: str, allowed: frozenset[str]) -> tuple[int, bytes]:
        """Status and body of an evidence page (``upstream.evidence``: only URLs whose
        origin is in ``allowed``, no credentials, no redirects followed). Raises
        :class:`UpstreamFailure` or ``EvidenceRefused``."""
        return await evidence.fetch_page(self.transport, url, allowed)


class Exchange:
    """One request and its response (a class, not ``@asynccontextmanager``: this is
    on every request, and the generator machinery cost more than the rest of it)."""

    __slots__ = ("_call", "_dispatcher", "_endpoint", "_origin", "_response", "_target")

    def __init__(
        self, dispatcher: Dispatcher, endpoint: Endpoint, origin: Origin, target: str,
        call: UpstreamCall,
    ) -> None:
        self._dispatcher = dispatcher
        self._endpoint = endpoint
        self._origin = origin
        self._target = target
        self._call = call
        self._response: UpstreamResponse | None = None

    async def __aenter__(self) -> UpstreamResponse:
        call, dispatcher = self._call, self._dispatcher
        signed = await dispatcher.credentials(self._endpoint, self._origin, self._target, call)
        headers = {**dict(call.headers), **signed}.items()
        self._response = await dispatcher.transport.request(
            self._origin, call.method, self._target, headers, call.body
        )
        return self._response

    async def __aexit__(self, *exc_info: object) -> None:
        if self._response is not None:
            self._response.release()
            self._response = None
