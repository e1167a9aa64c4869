"""Passkeys (WebAuthn) with the ``webauthn`` library: registration and sign-in
ceremonies, and the one-time challenges they need.

Usage::

    ceremonies = Passkeys(store, challenges)
    options = await ceremonies.register_options(account, rp)          # -> browser
    await ceremonies.register(account, credential_json, rp)            # <- browser
    options = await ceremonies.login_options(rp)
    account = await ceremonies.login(credential_json, rp)              # or 401

A challenge is single-use and lives five minutes, in memory (one instance) or in
Redis (several: the options and the answer may reach different instances). Only the
credential's id, public key and signature counter are stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
)

from zdrgate.accounts import accounts_store, sign_in_store
from zdrgate.accounts.accounts_store import Account
from zdrgate.accounts.auth import put_bounded
from zdrgate.accounts.store import Store
from zdrgate.errors import AuthenticationFailed, InvalidRequest, ServiceUnavailable

CHALLENGE_SECONDS = 300
_MAX_CHALLENGES = 10_000
_FAILED = "The passkey could not be verified."


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who the passkeys are for: the site's host name and its origin."""

    id: str
    origin: str
    name: str = "zdrgate"


class Challenges(Protocol):
    async def put(self, challenge: bytes, owner: str) -> None: ...

    async def take(self, challenge: bytes) -> str | None:
        """The owner the challenge was issued for, once; None if unknown or expired."""
        ...

    async def close(self) -> None: ...


class MemoryChallenges:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._live: dict[bytes, tuple[float, str]] = {}

    async def put(self, challenge: bytes, owner: str) -> None:
        expires = self._clock() + CHALLENGE_SECONDS
        put_bounded(self._live, challenge, (expires, owner), _MAX_CHALLENGES)

    async def take(self, challenge: bytes) -> str | None:
        found = self._live.pop(challenge, None)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    async def close(self) -> None:
        pass


class RedisChallenges:
    def __init__(self, url: str, prefix: str = "zdrgate:") -> None:
        import redis.asyncio  # noqa: PLC0415 - optional dependency

        self._redis: Any = redis.asyncio.Redis.from_url(url)
        self._prefix = prefix + "passkey:challenge:"

    async def put(self, challenge: bytes, owner: str) -> None:
        try:
            await self._redis.set(self._prefix + challenge.hex(), owner, ex=CHALLENGE_SECONDS)
        except Exception as exc:  # redis errors and OSError alike: refuse, do not skip
            raise ServiceUnavailable("Passkeys are unavailable right now.") from exc

    async def take(self, challenge: bytes) -> str | None:
        try:
            owner = await self._redis.getdel(self._prefix + challenge.hex())
        except Exception as exc:
            raise ServiceUnavailable("Passkeys are unavailable right now.") from exc
        return None if owner is None else bytes(owner).decode()

    async def close(self) -> None:
        await self._redis.aclose()


class Passkeys:
    def __init__(self, store: Store, challenges: Challenges) -> None:
        self._store = store
        self.challenges = challenges

    async def register_options(self, account: Account, rp: RelyingParty) -> dict[str, Any]:
        existing = await asyncio.to_thread(self._passkeys_of, account.id)
        options = generate_registration_options(
            rp_id=rp.id,
            rp_name=rp.name,
            user_name=account.email,
            user_id=account.id.encode(),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
                for p in existing
            ],
        )
        await self.challenges.put(options.challenge, f"register:{account.id}")
        return _json(options_to_json(options))

    async def register(self, account: Account, credential: dict[str, Any], rp: RelyingParty) -> str:
        """Store the new passkey of ``account``; its credential id."""
        challenge = await self._challenge(credential, f"register:{account.id}", register=True)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
            )
        except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(
                "The passkey registration could not be verified.", code="invalid_passkey"
            ) from exc
        credential_id = bytes_to_base64url(verified.credential_id)

        def add() -> None:
            with self._store.begin() as conn:
                sign_in_store.add_passkey(
                    conn,
                    account.id,
                    credential_id,
                    verified.credential_public_key,
                    verified.sign_count,
                )

        await asyncio.to_thread(add)
        return credential_id

    async def login_options(self, rp: RelyingParty) -> dict[str, Any]:
        options = generate_authentication_options(rp_id=rp.id)
        await self.challenges.put(options.challenge, "login")
        return _json(options_to_json(options))

    async def login(self, credential: dict[str, Any], rp: RelyingParty) -> Account:
        """The account whose passkey answered the challenge; 401 otherwise."""
        challenge = await self._challenge(credential, "login", register=False)
        credential_id = str(credential.get("id", ""))[:1400]
        found = await asyncio.to_thread(self._find, credential_id)
        if found is None:
            raise AuthenticationFailed(_FAILED, code="invalid_passkey")
        passkey, account = found
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
            )
        except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
            raise AuthenticationFailed(_FAILED, code="invalid_passkey") from exc
        await asyncio.to_thread(self._used, credential_id, verified.new_sign_count)
        return account

    async def _challenge(self, credential: dict[str, Any], owner: str, *, register: bool) -> bytes:
        """The challenge the browser signed, if this gateway issued it for ``owner``."""
        error = InvalidRequest if register else AuthenticationFailed
        try:
            client_data = parse_client_data_json(
                base64url_to_bytes(credential["response"]["clientDataJSON"])
            )
        except Exception as exc:  # any malformed answer is the same refusal
            raise error(_FAILED, code="invalid_passkey") from exc
        if await self.challenges.take(client_data.challenge) != owner:
            raise error("The passkey challenge is unknown or expired.", code="invalid_passkey")
        return client_data.challenge

    def _passkeys_of(self, account_id: str) -> list[sign_in_store.Passkey]:
        with self._store.connect() as conn:
            return sign_in_store.passkeys_of(conn, account_id)

    def _find(self, credential_id: str) -> tuple[sign_in_store.Passkey, Account] | None:
        with self._store.connect() as conn:
            passkey = sign_in_store.find_passkey(conn, credential_id)
            if passkey is None:
                return None
            account = accounts_store.get_account(conn, passkey.account_id)
        return None if account is None else (passkey, account)

    def _used(self, credential_id: str, sign_count: int) -> None:
        with self._store.begin() as conn:
            sign_in_store.passkey_used(conn, credential_id, sign_count)


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(text)
    return value
