"""The revocation epoch: one value that changes whenever a key or a session may have
stopped being valid, so that caches of them are dropped at once on every process.

Usage::

    epoch = epoch_for(settings)          # Redis when storage.redis_url is set, else a file
    seen = await epoch.current()         # per request: a stat(2), or one Redis GET
    epoch.bump()                         # after a revocation (CLI or server, sync)

With Redis, a model-serving request makes no ``GET`` of its own: it is identified
under the last value this process saw (``current(fresh=False)``), and the limiter's
one round trip reads the epoch with the counters (:mod:`zdrgate.limits.redis_counters`);
if the value moved, the request's key or session is checked again
(:attr:`~zdrgate.accounts.keys.Principal.recheck`) before anything is sent upstream.

Authenticators keep key rows and sessions in memory and compare :meth:`current`
with the value they saw when they filled the cache: a different value empties it.
The value is opaque; only equality matters. Whoever revokes, deletes or changes a
key, a session or an account calls :meth:`bump` after the change is committed (the
:class:`~zdrgate.accounts.store.Store` does for the changes it makes).

- :class:`MemoryEpoch`: one process (tests, an in-memory database).
- :class:`FileEpoch`: processes on one machine (``serve --workers N``, the CLI
  revoking while ``serve`` runs): a file in ``storage.data_dir`` replaced atomically
  on each bump; readers compare its inode and mtime (about 1 us, see bench/RESULTS.md).
- :class:`RedisEpoch`: instances on several machines: an integer ``INCR``-ed in Redis.
  Redis holds nothing else of it: no key, no id, no content.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Protocol

from zdrgate.errors import ServiceUnavailable

EPOCH_FILE = "auth-epoch"
SLOT_TAG = "{c}"
"""The Redis Cluster hash tag of every key the limiter's script touches and of the
epoch (after ``storage.redis_key_prefix``): a script may only touch keys of one slot."""
REDIS_KEY_SUFFIX = SLOT_TAG + "auth:epoch"
REDIS_KEY = "zdrgate:" + REDIS_KEY_SUFFIX


class AuthEpoch(Protocol):
    async def current(self, fresh: bool = True) -> Hashable:
        """The epoch now; with ``fresh=False`` the last value seen may do (when a later
        round trip confirms it). Raises ServiceUnavailable when it cannot be known."""
        ...

    def observe(self, value: Hashable) -> None:
        """A value read elsewhere (the limiter's round trip), newer than the last seen."""
        ...

    def bump(self) -> None:
        """Invalidate every cache of keys and sessions, on every process."""
        ...

    async def close(self) -> None: ...


class MemoryEpoch:
    def __init__(self) -> None:
        self._counter = itertools.count()
        self._value = next(self._counter)

    async def current(self, fresh: bool = True) -> Hashable:
        return self._value

    def observe(self, value: Hashable) -> None:
        pass  # always read fresh

    def bump(self) -> None:
        self._value = next(self._counter)

    async def close(self) -> None:
        pass


class FileEpoch:
    """An epoch file whose identity (inode, mtime, size) is the value.

    A bump writes a fresh file and renames it over the old one, so a reader never sees
    a half-written file and the inode changes on every bump even when two bumps fall in
    one mtime tick."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def current(self, fresh: bool = True) -> Hashable:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None  # deleted: a value of its own, so caches are dropped once
        except OSError:
            raise ServiceUnavailable(
                "The gateway cannot check key revocations right now."
            ) from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def observe(self, value: Hashable) -> None:
        pass  # always read fresh: a stat(2) costs about 1 us

    def bump(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}")
        temp.write_text(secrets.token_hex(8 + secrets.randbelow(8)), encoding="ascii")
        os.replace(temp, self.path)

    async def close(self) -> None:
        pass


_UNSEEN = object()


class RedisEpoch:
    """The epoch as an integer in Redis (``b""`` while it was never bumped), bumped with
    ``INCR`` (synchronously: from the CLI or a worker thread).

    ``current()`` is one ``GET``; ``current(fresh=False)`` answers the last value seen
    without a round trip (model-serving requests, whose admission reads the value
    again: see the module's docstring). Requests that arrive while a ``GET`` is in
    flight share its answer instead of sending their own (it was sent less than one
    round trip before they arrived)."""

    def __init__(self, url: str, key: str = REDIS_KEY) -> None:
        import redis  # noqa: PLC0415 - optional dependency, only with storage.redis_url
        import redis.asyncio  # noqa: PLC0415

        self.key = key
        self._async: Any = redis.asyncio.Redis.from_url(url)
        self._sync: Any = redis.Redis.from_url(url)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._inflight: asyncio.Future[Hashable] | None = None
        self._last: Hashable = _UNSEEN

    async def current(self, fresh: bool = True) -> Hashable:
        if not fresh and self._last is not _UNSEEN:
            return self._last
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._get())
            self._inflight.add_done_callback(self._landed)
        return await asyncio.shield(self._inflight)

    def _landed(self, _done: asyncio.Future[Hashable]) -> None:
        self._inflight = None

    async def _get(self) -> Hashable:
        try:
            value: Hashable = await self._async.get(self.key) or b""
        except self._errors:
            raise ServiceUnavailable(
                "The gateway cannot check key revocations right now (Redis unavailable)."
            ) from None
        self._last = value
        return value

    def observe(self, value: Hashable) -> None:
        self._last = value

    def bump(self) -> None:
        self._sync.incr(self.key)

    async def close(self) -> None:
        await self._async.aclose()
        self._sync.close()


def epoch_for(redis_url: str, data_dir: str, redis_prefix: str = "zdrgate:") -> AuthEpoch:
    """Redis when configured (several machines), else a file in ``data_dir``."""
    if redis_url:
        return RedisEpoch(redis_url, redis_prefix + REDIS_KEY_SUFFIX)
    return FileEpoch(Path(data_dir) / EPOCH_FILE)  # made by the first bump
