"""Passwords: argon2id (argon2-cffi), hashed and verified off the event loop.

Usage::

    stored = await hash_password("correct horse battery staple")
    ok = await verify_password(stored, presented)       # False for None: no password set

Verification always runs one argon2 check, against a fixed dummy hash when the
account is unknown or has no password, so the time of a refusal does not tell whether
an email is registered. argon2's own comparison is constant-time.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from zdrgate.errors import InvalidRequest

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a bound keeps one request from costing more

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (the library default)


@functools.cache
def _dummy() -> str:
    """A hash no password matches, made on the first sign-in attempt (not at import:
    an argon2 hash costs tens of milliseconds on every start and every CLI command)."""
    return _HASHER.hash("zdrgate: no account has this password")


def check_new_password(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidRequest(
            f"A password needs {MIN_LENGTH} to {MAX_LENGTH} characters.",
            param="password",
            code="weak_password",
        )


async def hash_password(password: str) -> str:
    check_new_password(password)
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
