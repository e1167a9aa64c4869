"""API keys: ``zdr-<key id>-<secret>``. Only a hash of the secret is stored; the
check looks the key up by its id and compares hashes in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

PREFIX = "zdr"


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret_hash: str
    plaintext: str  # shown to the operator once, never stored


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on one scope (a key, an account or a team); None means no cap."""

    rpm: int | None = None
    tpm: int | None = None
    budget_day_usd: float | None = None
    budget_month_usd: float | None = None


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and what the key may do. No secret.

    Built by the authenticator from the key's row (and its account's and team's);
    read by the limiter (rate limits, budgets) and the service (allowlists)."""

    key_id: str
    is_admin: bool
    account_id: str | None = None
    team_id: str | None = None
    key_limits: Limits = NO_LIMITS
    account_limits: Limits = NO_LIMITS
    team_limits: Limits = NO_LIMITS
    models: frozenset[str] | None = None
    """Model ids this key may use; None: every model."""
    region: str | None = None
    """Only endpoints in this region (e.g. "eu"); None: any region."""
    images_allowed: bool = True
    session_id: str | None = None
    """Set when the caller is a signed-in web session rather than an API key."""
    epoch: Hashable = field(default=None, compare=False, repr=False)
    """The revocation epoch (``accounts.epoch``) under which its key or session was
    last read from the database."""
    recheck: Recheck | None = field(default=None, compare=False, repr=False)
    """Reads its key or session again under a newer epoch: the principal it is now
    (raises AuthenticationFailed when it is gone). None: nothing to recheck (the
    master key)."""


Recheck = Callable[[Hashable], Awaitable[Principal]]


async def reconfirmed(principal: Principal, epoch: Hashable) -> Principal:
    """``principal`` as it stands under ``epoch``, the revocation epoch read by the
    request's admission: itself if nothing was revoked or changed since it was read,
    else read again (AuthenticationFailed if its key or session is gone)."""
    if epoch is None or principal.recheck is None or epoch == principal.epoch:
        return principal
    return await principal.recheck(epoch)


def hash_secret(secret: str) -> str:
    # Keys are 190+ bits of randomness, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def generate() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{PREFIX}-{key_id}-{secret}")


def split(presented: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    parts = presented.split("-", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
