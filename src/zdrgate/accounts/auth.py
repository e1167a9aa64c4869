"""Bearer-key authentication with a short in-memory cache of key rows."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import time
from collections.abc import Callable

from zdrgate.accounts.keys import Principal, hash_secret, matches, split
from zdrgate.accounts.store import KeyRow, Store
from zdrgate.errors import AuthenticationFailed

_CACHE_SECONDS = 30.0  # a revoked key stops working within this time on every instance
_CACHE_MAX = 10_000


class Authenticator:
    def __init__(
        self,
        store: Store,
        master_key: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._master_hash = hash_secret(master_key) if master_key else None
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyRow | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        presented = _bearer(authorization)
        if self._master_hash and hmac.compare_digest(hash_secret(presented), self._master_hash):
            return Principal("master", is_admin=True)
        parts = split(presented)
        if parts is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        key_id, secret = parts
        row = await self._row(key_id)
        usable = row is not None and row.usable(dt.datetime.now(dt.UTC))
        if row is None or not usable or not matches(secret, row.secret_hash):
            raise AuthenticationFailed("Incorrect API key provided.")
        return row.principal()

    def forget(self) -> None:
        """Drop every cached key row: called by the store after a key, an account or
        a limit changed in this process (``Store.on_credentials_changed``)."""
        self._cache.clear()

    async def _row(self, key_id: str) -> KeyRow | None:
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
        row = await asyncio.to_thread(self._store.get_key, key_id)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key_id] = (now, row)
        return row


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authorization header must be 'Bearer YOUR_KEY'.")
    return token.strip()
