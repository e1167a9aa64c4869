"""The receipt signing key and every public key receipts were signed with.

Usage::

    ring = load_key_ring(settings.receipts, Path(settings.storage.data_dir), os.environ)
    ring.share(KeyHistory(store.engine))   # after migrations: record and renew this key
    ring.kid            # RFC 7638 thumbprint of the signing key
    ring.jwks()         # {"keys": [...]}: every key any instance signed with, still valid

Where the private key comes from, first match wins:

1. the environment variable named by ``receipts.signing_key_env`` (a PEM);
2. the PEM file ``receipts.signing_key_file``;
3. ``<storage.data_dir>/receipt-signing-key.pem``, generated at first start with
   mode 0600.

The public keys live in the database (:mod:`zdrgate.receipts.history`), which every
instance shares, so each instance's JWKS lists the keys all of them signed with. A key
stays listed for ``receipts.lifetime_days`` after the last time an instance could have
signed with it: a running instance renews its key's ``signs_until`` every
``RENEW_EVERY`` to ``RENEW_AHEAD`` from then. ``zdrgate receipt rotate-key`` replaces
the generated key file (an instance signs with the new key from its next start).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from zdrgate.config import ReceiptSettings
from zdrgate.errors import ConfigError
from zdrgate.receipts.history import KeyHistory, KnownKey
from zdrgate.receipts.jws import InvalidToken, key_from_jwk, public_jwk

KEY_FILE = "receipt-signing-key.pem"
LEGACY_HISTORY_FILE = "receipt-keys.json"  # per data directory, before the database held it
RENEW_EVERY = dt.timedelta(hours=1)
RENEW_AHEAD = dt.timedelta(hours=3)  # two renewals may fail before a receipt outlives it
CACHE_SECONDS = 5.0  # how stale one instance's view of the others' keys may be


class KeyRing:
    """This process's signing key, and the public keys of every instance (from the
    shared history once :meth:`share` was called; only its own key before)."""

    def __init__(
        self, signing_key: Ed25519PrivateKey, lifetime: dt.timedelta, started: dt.datetime
    ) -> None:
        self.signing_key = signing_key
        self.jwk = public_jwk(signing_key.public_key())
        self.kid = self.jwk["kid"]
        self.lifetime = lifetime
        self.history: KeyHistory | None = None
        self.cache_seconds = CACHE_SECONDS
        self._own = KnownKey(self.jwk, started, None)
        self._others: tuple[KnownKey, ...] = ()
        self._read_at = -float("inf")

    def share(self, history: KeyHistory, now: dt.datetime | None = None) -> None:
        """Use the shared history from now on, recording this key in it."""
        self.history = history
        self.renew(now)

    def renew(self, now: dt.datetime | None = None) -> None:
        """Record that this key may sign until ``now + RENEW_AHEAD``."""
        if self.history is None:
            return
        when = now or dt.datetime.now(dt.UTC)
        self.history.record_use(self.jwk, when, when + RENEW_AHEAD)
        self._read_at = -float("inf")

    def known(self) -> tuple[KnownKey, ...]:
        """Every key any instance signed with (this one's last), read at most every
        ``cache_seconds``."""
        if self.history is not None and time.monotonic() - self._read_at >= self.cache_seconds:
            self._others = tuple(k for k in self.history.known() if k.jwk["kid"] != self.kid)
            self._read_at = time.monotonic()
        return (*self._others, self._own)

    def jwks(self, now: dt.datetime | None = None) -> dict[str, Any]:
        when = now or dt.datetime.now(dt.UTC)
        return {"keys": [k.jwk for k in self.known() if k.listed(when, self.lifetime)]}

    def all_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every key that ever signed, listed or not: the policy log is kept for good,
        so its old entries are checked with expired keys too."""
        return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in self.known()}

    def verification_keys(self, now: dt.datetime | None = None) -> dict[str, Ed25519PublicKey]:
        return {k["kid"]: key_from_jwk(k) for k in self.jwks(now)["keys"]}


def load_key_ring(
    conf: ReceiptSettings,
    data_dir: Path,
    environ: Mapping[str, str],
    now: dt.datetime | None = None,
) -> KeyRing:
    """The signing key (made on first start if none is given). No database is touched:
    call :meth:`KeyRing.share` once the tables exist."""
    when = now or dt.datetime.now(dt.UTC)
    key = _signing_key(conf, data_dir, environ)
    return KeyRing(key, dt.timedelta(days=conf.lifetime_days), when)


def share_history(ring: KeyRing, engine: sa.Engine, data_dir: Path,
                  now: dt.datetime | None = None) -> None:
    """Record the ring's key in the shared history, after importing the keys an older
    version kept in ``data_dir``'s own file."""
    when = now or dt.datetime.now(dt.UTC)
    history = KeyHistory(engine)
    history.import_file(data_dir / LEGACY_HISTORY_FILE, when)
    ring.share(history, when)


def listed_keys(
    conf: ReceiptSettings, engine: sa.Engine, now: dt.datetime | None = None
) -> dict[str, Ed25519PublicKey]:
    """The keys this deployment's JWKS lists, read from the shared history (no key is
    made or recorded: for verifying on the operator's side)."""
    when = now or dt.datetime.now(dt.UTC)
    lifetime = dt.timedelta(days=conf.lifetime_days)
    known = KeyHistory(engine).known()
    return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in known if k.listed(when, lifetime)}


def known_keys(engine: sa.Engine) -> dict[str, Ed25519PublicKey]:
    """Every key in the shared history, expired or not (for the policy log)."""
    return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in KeyHistory(engine).known()}


def keys_of_jwks(raw: bytes) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a saved JWKS document, by ``kid``."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError("the JWKS is not valid JSON") from exc
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise ConfigError("the JWKS has no 'keys' list")
    found: dict[str, Ed25519PublicKey] = {}
    for key in keys:  # other key types (RSA, ...) may share a JWKS: not receipt keys
        if not isinstance(key, dict) or not isinstance(key.get("kid"), str):
            continue
        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        try:
            found[key["kid"]] = key_from_jwk(key)
        except (InvalidToken, ValueError) as exc:
            raise ConfigError(f"the JWKS key {key['kid'][:80]!r} is not a valid Ed25519 key") \
                from exc
    return found


def rotate_generated_key(data_dir: Path) -> str:
    """Replace the generated key file with a new key; returns the new ``kid``. The old
    key is marked retired the next time the key ring loads."""
    key = Ed25519PrivateKey.generate()
    path = data_dir / KEY_FILE
    tmp = path.with_suffix(".new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    _write_private(tmp, key)
    os.replace(tmp, path)
    return public_jwk(key.public_key())["kid"]


def _signing_key(
    conf: ReceiptSettings, data_dir: Path, environ: Mapping[str, str]
) -> Ed25519PrivateKey:
    pem = environ.get(conf.signing_key_env, "") if conf.signing_key_env else ""
    if pem:
        return _parse_pem(pem.encode(), f"${conf.signing_key_env}")
    if conf.signing_key_file:
        path = Path(conf.signing_key_file)
        try:
            return _parse_pem(path.read_bytes(), str(path))
        except OSError as exc:
            raise ConfigError(f"receipts.signing_key_file: cannot read {path}") from exc
    return _generated_key(data_dir)


def _generated_key(data_dir: Path) -> Ed25519PrivateKey:
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    # Made at an earlier start, or by another worker just now: keep that one.
    with contextlib.suppress(FileExistsError):
        _write_private(path, Ed25519PrivateKey.generate())
    return _parse_pem(path.read_bytes(), str(path))


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # O_EXCL + mode 0600 at creation: the file is never readable by others, not even
    # for an instant, and two workers starting together cannot both write one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _parse_pem(data: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{source} is not an Ed25519 key (receipts are signed with EdDSA)")
    return key
