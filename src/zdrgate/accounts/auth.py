"""API-key authentication from the request's headers, before its body is read.

Usage::

    auth = Authenticator(load_grant_from(store), master_key, epoch, failures)
    principal = await auth.authenticate("Bearer zdr-...", client="203.0.113.9")

Valid keys are cached in memory, and unknown key ids in a separate, smaller cache, so
a flood of made-up ids can neither evict a valid key nor reach the database twice. A
cached key is used only while the revocation epoch (``accounts.epoch``) has the value
it had when the key was loaded: a revocation anywhere empties every process's cache
at its next request. Expiry is checked on every request against the cached time.
Failed attempts are counted per client address; a blocked address is refused before
any database lookup.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import re
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from zdrgate.accounts.epoch import AuthEpoch
from zdrgate.accounts.failures import AuthFailures
from zdrgate.accounts.keys import Principal, hash_secret, matches, split
from zdrgate.errors import AuthenticationFailed, ConfigError, RateLimited

MAX_CREDENTIAL_LENGTH = 256
"""Longest credential read at all (a key is 60 characters): longer ones are refused
unhashed and uncached."""
MASTER_KEY_MIN_LENGTH = 32
_KEY_ID = re.compile(r"[0-9a-f]{1,32}")
_POSITIVE_MAX = 10_000
_NEGATIVE_MAX = 4_096
_NEGATIVE_SECONDS = 10.0
_POSITIVE_SECONDS = 300.0  # a safety net only: the epoch is what makes revocation immediate
_WRONG_KEY = "Incorrect API key provided."
MASTER_ID = "master"
MASTER = Principal(MASTER_ID, is_admin=True)


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """A key as its rows say: the hash to check, who it is, and until when."""

    secret_hash: str
    principal: Principal
    expires_at: float | None = None  # Unix time; None: never


KeyLoader = Callable[[str], "KeyGrant | None"]
"""Loads a usable key (not revoked, owner not deleted) by id; run in a thread."""


@dataclass(frozen=True, slots=True)
class _Cached:
    grant: KeyGrant
    epoch: Hashable
    loaded: float  # monotonic


class Authenticator:
    def __init__(
        self,
        load: KeyLoader,
        master_key: str | None,
        epoch: AuthEpoch,
        failures: AuthFailures,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if master_key is not None:
            check_master_key(master_key)
        self._load = load
        self._master_hash = hash_secret(master_key) if master_key else None
        self.epoch = epoch
        self.failures = failures
        self._clock = clock
        self._monotonic = monotonic
        self._valid: dict[str, _Cached] = {}
        self._unknown: dict[str, float] = {}  # key id -> monotonic time it expires
        self._seen: Hashable = object()

    async def authenticate(
        self, authorization: str | None, client: str = "", fresh: bool = True
    ) -> Principal:
        """The caller of an ``Authorization: Bearer`` header (401/429/503 otherwise).

        ``fresh=False``: under the last revocation epoch seen, for a request whose
        admission reads the epoch again and rechecks the principal if it moved."""
        return await self.key(bearer(authorization), client, fresh)

    async def key(self, presented: str, client: str = "", fresh: bool = True) -> Principal:
        if len(presented) > MAX_CREDENTIAL_LENGTH:
            raise await self._wrong(client)
        if self._master_hash and hmac.compare_digest(hash_secret(presented), self._master_hash):
            return MASTER
        parts = split(presented)
        if parts is None or not _KEY_ID.fullmatch(parts[0]):
            raise await self._wrong(client)
        key_id, secret = parts
        grant = await self._grant(key_id, client, fresh)
        if grant is None or not matches(secret, grant.secret_hash):
            raise await self._wrong(client)
        self._refuse_if_expired(grant)
        return grant.principal

    async def principal_by_id(
        self, key_id: str, client: str | None = "", fresh: bool = True
    ) -> tuple[Principal, float | None] | None:
        """A usable key's principal and expiry (Unix time), by id alone: for sessions
        opened with a key, which act as that key while it lives."""
        if key_id == MASTER_ID:
            return (MASTER, None) if self._master_hash else None
        if not _KEY_ID.fullmatch(key_id):
            return None
        grant = await self._grant(key_id, client, fresh)
        return None if grant is None else (grant.principal, grant.expires_at)

    async def _grant(self, key_id: str, client: str | None, fresh: bool) -> KeyGrant | None:
        """The key's grant, cached; ``client`` None: a recheck, which no address caused."""
        epoch = await self.epoch.current(fresh)
        if epoch != self._seen:
            self._valid.clear()
            self._unknown.clear()
            self._seen = epoch
        now = self._monotonic()
        cached = self._valid.get(key_id)
        if cached is not None and cached.epoch == epoch and now - cached.loaded < _POSITIVE_SECONDS:
            return cached.grant
        if client is not None:
            await self._refuse_if_blocked(client)
        if self._unknown.get(key_id, 0.0) > now:
            return None
        grant = await asyncio.to_thread(self._load, key_id)
        if grant is None:
            put_bounded(self._unknown, key_id, now + _NEGATIVE_SECONDS, _NEGATIVE_MAX)
        else:
            grant = self._stamped(grant, key_id, epoch)
            put_bounded(self._valid, key_id, _Cached(grant, epoch, now), _POSITIVE_MAX)
        return grant

    def _stamped(self, grant: KeyGrant, key_id: str, epoch: Hashable) -> KeyGrant:
        """The grant with its principal marked as read under ``epoch``, and how to read
        it again (the same key id with the same secret) when the epoch moves."""
        recheck = functools.partial(self._recheck, key_id, grant.secret_hash)
        principal = dataclasses.replace(grant.principal, epoch=epoch, recheck=recheck)
        return dataclasses.replace(grant, principal=principal)

    async def _recheck(self, key_id: str, secret_hash: str, epoch: Hashable) -> Principal:
        self.epoch.observe(epoch)
        grant = await self._grant(key_id, None, fresh=False)
        if grant is None or not hmac.compare_digest(grant.secret_hash, secret_hash):
            raise AuthenticationFailed(_WRONG_KEY)  # revoked, rotated or its owner deleted
        self._refuse_if_expired(grant)
        return grant.principal

    def _refuse_if_expired(self, grant: KeyGrant) -> None:
        if grant.expires_at is not None and self._clock() >= grant.expires_at:
            raise AuthenticationFailed("This API key has expired.", code="api_key_expired")

    async def _refuse_if_blocked(self, client: str) -> None:
        retry_after = await self.failures.blocked(client)
        if retry_after is not None:
            raise too_many_failures(retry_after)

    async def _wrong(self, client: str) -> AuthenticationFailed | AuthBlocked:
        retry_after = await self.failures.blocked(client)
        if retry_after is not None:
            return too_many_failures(retry_after)
        await self.failures.hit(client)
        return AuthenticationFailed(_WRONG_KEY)


K = TypeVar("K")
V = TypeVar("V")


def put_bounded(cache: dict[K, V], key: K, value: V, limit: int) -> None:
    """Insert into a cache of at most ``limit`` entries, dropping the oldest first."""
    if len(cache) >= limit and key not in cache:
        del cache[next(iter(cache))]  # the oldest entry: dicts keep insertion order
    cache[key] = value


class AuthBlocked(RateLimited):
    """Too many failed authentications from one client address."""

    code = "too_many_failed_authentications"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def too_many_failures(retry_after: float) -> AuthBlocked:
    seconds = max(1, int(retry_after + 0.999))
    return AuthBlocked(
        f"Too many failed authentications from this address; retry in {seconds} s.", seconds
    )


def check_master_key(master_key: str) -> None:
    if len(master_key) < MASTER_KEY_MIN_LENGTH or len(master_key) > MAX_CREDENTIAL_LENGTH:
        raise ConfigError(
            f"ZDRGATE_MASTER_KEY must be {MASTER_KEY_MIN_LENGTH} to {MAX_CREDENTIAL_LENGTH} "
            f"characters long (it has {len(master_key)}); generate one with "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )


def bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authorization header must be 'Bearer YOUR_KEY'.")
    return token.strip()
