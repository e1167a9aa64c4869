"""Web sessions: an opaque id in the ``zdr_session`` cookie, stored only as its hash.

Usage::

    sessions = Sessions(store, authenticator, lifetime=dt.timedelta(days=7))
    token, signed_in = await sessions.open(account=account)    # token goes in the cookie
    signed_in = await sessions.resolve(token, client)          # per request (401 if gone)
    await sessions.end(token)                                  # logout

A session belongs to an account (password or passkey sign-in) or to an API key (the
web app signed in with a key): then it acts exactly as that key and ends when the key
is revoked or expires. Sessions are cached in memory like keys, against the same
revocation epoch, so logout, account deletion or an admin's revocation ends a session
at once on every process. Each session has a CSRF token that every state-changing
request made with the cookie must repeat in ``X-CSRF-Token``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hmac
import secrets
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from zdrgate.accounts import accounts_store, sign_in_store
from zdrgate.accounts.accounts_store import Account, aware, iso
from zdrgate.accounts.auth import Authenticator, put_bounded, too_many_failures
from zdrgate.accounts.keys import Principal, hash_secret
from zdrgate.accounts.store import Store
from zdrgate.errors import AuthenticationFailed, PermissionDenied

COOKIE = "zdr_session"
MAX_TOKEN_LENGTH = 128
_POSITIVE_MAX = 10_000
_NEGATIVE_MAX = 4_096
_NEGATIVE_SECONDS = 10.0
_POSITIVE_SECONDS = 300.0  # a safety net; the epoch makes revocation immediate
_GONE = "Your session has ended; sign in again."


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    csrf_token: str = dataclasses.field(repr=False)
    expires_at: dt.datetime
    account: Account | None
    ends: float  # Unix time: the session's expiry, or its key's if sooner

    def view(self) -> dict[str, Any]:
        """The body of ``/auth/login`` and ``/auth/session``."""
        account = self.account
        return {
            "account": (
                None
                if account is None
                else {"id": account.id, "email": account.email, "role": account.role}
            ),
            "admin": self.principal.is_admin,  # the web app shows its admin pages' link
            "csrf_token": self.csrf_token,
            "expires_at": iso(self.expires_at),
        }

    def check_csrf(self, presented: str | None) -> None:
        if presented is None or not hmac.compare_digest(presented, self.csrf_token):
            raise PermissionDenied(
                "A request signed in by cookie must carry the session's X-CSRF-Token header.",
                code="csrf_token_invalid",
            )


@dataclass(frozen=True, slots=True)
class _Cached:
    signed_in: SignedIn
    epoch: Hashable
    loaded: float


class Sessions:
    def __init__(
        self,
        store: Store,
        keys: Authenticator,
        lifetime: dt.timedelta,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._keys = keys
        self.lifetime = lifetime
        self._clock = clock
        self._monotonic = monotonic
        self._valid: dict[str, _Cached] = {}
        self._unknown: dict[str, float] = {}
        self._seen: Hashable = object()

    async def open(
        self, *, account: Account | None = None, key: Principal | None = None
    ) -> tuple[str, SignedIn]:
        """A new session for ``account`` or for the API ``key``: (cookie value, session)."""
        csrf = secrets.token_urlsafe(32)
        account_id = account.id if account else None
        key_id = key.key_id if key else None

        def create() -> tuple[str, sign_in_store.Session]:
            with self._store.begin() as conn:
                return sign_in_store.create_session(
                    conn, account_id, self.lifetime, csrf, key_id=key_id
                )

        token, row = await asyncio.to_thread(create)
        signed_in = await self._signed_in(row, "")
        if signed_in is None:
            raise AuthenticationFailed(_GONE)
        return token, signed_in

    async def resolve(self, token: str, client: str = "", fresh: bool = True) -> SignedIn:
        """The live session of a cookie value; 401 when it is unknown, ended or expired.
        ``fresh=False``: as for keys (``Authenticator.authenticate``)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationFailed(_GONE)
        return await self._resolve(hash_secret(token), client, fresh)

    async def _recheck(self, id_hash: str, epoch: Hashable) -> Principal:
        """The session's principal read again under a newer epoch (see keys.Principal)."""
        self._keys.epoch.observe(epoch)
        return (await self._resolve(id_hash, None, fresh=False)).principal

    async def _resolve(self, id_hash: str, client: str | None, fresh: bool) -> SignedIn:
        """``client`` None: a recheck, which no address caused (no failure counted)."""
        epoch = await self._keys.epoch.current(fresh)
        if epoch != self._seen:
            self._valid.clear()
            self._unknown.clear()
            self._seen = epoch
        now = self._monotonic()
        cached = self._valid.get(id_hash)
        if cached is not None and cached.epoch == epoch and now - cached.loaded < _POSITIVE_SECONDS:
            found: SignedIn | None = cached.signed_in
        elif self._unknown.get(id_hash, 0.0) > now:
            found = None
        else:
            found = await self._fill(id_hash, client, epoch, now)
        if found is None or self._clock() >= found.ends:
            raise AuthenticationFailed(_GONE, code="session_expired")
        return found

    async def _fill(
        self, id_hash: str, client: str | None, epoch: Hashable, now: float
    ) -> SignedIn | None:
        """A session from the database into the caches (a miss counts as a failure)."""
        if client is not None:
            retry_after = await self._keys.failures.blocked(client)
            if retry_after is not None:
                raise too_many_failures(retry_after)
        found = await self._load(id_hash, client)
        if found is None:
            if client is not None:
                await self._keys.failures.hit(client)  # a made-up or stale cookie
            put_bounded(self._unknown, id_hash, now + _NEGATIVE_SECONDS, _NEGATIVE_MAX)
            return None
        recheck = functools.partial(self._recheck, id_hash)
        principal = dataclasses.replace(found.principal, epoch=epoch, recheck=recheck)
        found = dataclasses.replace(found, principal=principal)
        put_bounded(self._valid, id_hash, _Cached(found, epoch, now), _POSITIVE_MAX)
        return found

    async def end(self, token: str) -> None:
        """Log out: the session stops at once on every process."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return

        def revoke() -> bool:
            with self._store.begin() as conn:
                return sign_in_store.revoke_session(conn, hash_secret(token))

        if await asyncio.to_thread(revoke):
            await asyncio.to_thread(self._store.credentials_changed)

    async def _load(self, id_hash: str, client: str | None) -> SignedIn | None:
        def find() -> tuple[sign_in_store.Session | None, Account | None]:
            with self._store.connect() as conn:
                row = sign_in_store.find_session_by_hash(conn, id_hash)
                account = None
                if row is not None and row.account_id is not None:
                    account = accounts_store.get_account(conn, row.account_id)
                return row, account

        row, account = await asyncio.to_thread(find)
        if row is None or (row.account_id is not None and account is None):
            return None
        return await self._signed_in(row, client, account)

    async def _signed_in(
        self, row: sign_in_store.Session, client: str | None, account: Account | None = None
    ) -> SignedIn | None:
        ends = aware(row.expires_at).timestamp()
        session_id = row.id_hash[:16]
        if row.key_id is not None:  # signed in with an API key: act as that key
            found = await self._keys.principal_by_id(row.key_id, client, fresh=False)
            if found is None:
                return None
            principal, key_ends = found
            if key_ends is not None:
                ends = min(ends, key_ends)
            principal = dataclasses.replace(principal, session_id=session_id)
            return SignedIn(principal, row.csrf_token, row.expires_at, None, ends)
        if account is None and row.account_id is not None:
            account = await asyncio.to_thread(self._account, row.account_id)
        if account is None:
            return None
        principal = Principal(
            f"web-{account.id}"[:32],
            account.is_admin,
            account_id=account.id,
            account_limits=account.limits,
            session_id=session_id,
        )
        return SignedIn(principal, row.csrf_token, row.expires_at, account, ends)

    def _account(self, account_id: str) -> Account | None:
        with self._store.connect() as conn:
            return accounts_store.get_account(conn, account_id)
