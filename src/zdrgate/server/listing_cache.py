"""Catalog documents rendered once (``/v1/models``, ``/public/models``, ``/public/privacy``)
and kept, JSON and gzip, until something that decides routability changes.

Whether a model may be routed depends on the catalog object (a config reload builds a
new one, with the operator's credentials in it), the policy engine object (its age
limit) and the providers it holds under review (evidence watch), and the day (records
age out). The cache key is exactly those; a change of any of them renders afresh on the
next request, so a listing never shows a model as routable that the policy engine
would refuse. Endpoint health is not in the key: it orders approved endpoints, it
never approves or rejects one, and no listing shows it.

Only catalog facts go through here, never content.

Usage::

    cache = DocumentCache()
    rendered = cache.get("v1-models", state.gateway, lambda: build(state))
    return rendered.response(request.headers.get("if-none-match"), accept_encoding)
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from zdrgate.server.responses import JSONBytes
from zdrgate.service import Gateway

GZIP_MIN_BYTES = 16 * 1024  # smaller listings go as they are


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    gzipped: bytes | None
    etag: str

    @classmethod
    def of(cls, content: Any) -> Rendered:
        body = orjson.dumps(content)
        packed = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(body, packed, '"' + hashlib.sha256(body).hexdigest()[:24] + '"')

    def response(
        self,
        if_none_match: str | None,
        accept_encoding: str | None,
        extra: dict[str, str] | None = None,
    ) -> JSONBytes:
        """The body (gzip when accepted), or a 304 when the client holds this version.
        ``no-cache``: a client revalidates every time, so it never keeps a stale list."""
        headers = {"etag": self.etag, "cache-control": "private, no-cache", **(extra or {})}
        if self.gzipped is not None:
            headers["vary"] = "accept-encoding"
        status, body = 200, self.body
        if if_none_match is not None and self.etag in if_none_match:
            status, body = 304, b""
        elif self.gzipped is not None and "gzip" in (accept_encoding or ""):
            body = self.gzipped
            headers["content-encoding"] = "gzip"
        reply = JSONBytes(None, status, headers)
        reply.body = body
        reply.raw_headers[0] = (b"content-length", b"%d" % len(body))
        return reply


@dataclass(frozen=True, slots=True)
class _Key:
    catalog: object
    engine: object
    today: dt.date
    suspended: frozenset[str]
    max_age_days: int

    @classmethod
    def of(cls, gateway: Gateway) -> _Key:
        engine = gateway.engine
        return cls(gateway.catalog, engine, gateway.today(), engine.suspended, engine.max_age_days)

    def same(self, other: _Key) -> bool:
        # Identity for the catalog and engine: a reload makes new objects, and their
        # equality (a deep comparison of hundreds of models) is not what is asked.
        return (
            self.catalog is other.catalog
            and self.engine is other.engine
            and (self.today, self.suspended, self.max_age_days)
            == (other.today, other.suspended, other.max_age_days)
        )


class DocumentCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[_Key, Rendered]] = {}
        self._lock = threading.Lock()
        self.renders = 0  # how many times a document was built (tests read it)

    def get(self, name: str, gateway: Gateway, build: Callable[[], Any]) -> Rendered:
        key = _Key.of(gateway)
        found = self._entries.get(name)
        if found is not None and found[0].same(key):
            return found[1]
        rendered = Rendered.of(build())
        with self._lock:
            self.renders += 1
            self._entries[name] = (key, rendered)
        return rendered
