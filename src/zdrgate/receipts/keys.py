"""The receipt signing key and every public key receipts were signed with.

Usage::

    ring = load_key_ring(settings.receipts, Path(settings.storage.data_dir), os.environ)
    ring.kid            # RFC 7638 thumbprint of the signing key
    ring.jwks()         # {"keys": [...]}: the current key and retired keys still valid

Where the private key comes from, first match wins:

1. the environment variable named by ``receipts.signing_key_env`` (a PEM);
2. the PEM file ``receipts.signing_key_file``;
3. ``<storage.data_dir>/receipt-signing-key.pem``, generated at first start with
   mode 0600.

Rotation: whenever the signing key differs from the last one seen, the last one is
marked retired in ``<data_dir>/receipt-keys.json`` (public keys only). A retired key
stays in the JWKS for ``receipts.lifetime_days`` after its retirement, so every
receipt it signed can still be verified that long. ``zdrgate receipt rotate-key``
replaces the generated key file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from zdrgate.config import ReceiptSettings
from zdrgate.errors import ConfigError
from zdrgate.receipts.jws import key_from_jwk, public_jwk

KEY_FILE = "receipt-signing-key.pem"
HISTORY_FILE = "receipt-keys.json"


@dataclass(frozen=True, slots=True)
class KnownKey:
    jwk: dict[str, str]
    first_used: dt.datetime
    retired_at: dt.datetime | None

    def listed(self, now: dt.datetime, lifetime: dt.timedelta) -> bool:
        return self.retired_at is None or now < self.retired_at + lifetime


@dataclass(frozen=True, slots=True)
class KeyRing:
    signing_key: Ed25519PrivateKey
    kid: str
    known: tuple[KnownKey, ...]
    lifetime: dt.timedelta

    def jwks(self, now: dt.datetime | None = None) -> dict[str, Any]:
        when = now or dt.datetime.now(dt.UTC)
        return {"keys": [k.jwk for k in self.known if k.listed(when, self.lifetime)]}

    def all_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every key that ever signed here, listed or not: the policy log is kept
        for good, so its old entries are checked with expired keys too."""
        return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in self.known}

    def verification_keys(self, now: dt.datetime | None = None) -> dict[str, Ed25519PublicKey]:
        return {k["kid"]: key_from_jwk(k) for k in self.jwks(now)["keys"]}


def load_key_ring(
    conf: ReceiptSettings,
    data_dir: Path,
    environ: Mapping[str, str],
    now: dt.datetime | None = None,
) -> KeyRing:
    """The signing key (made on first start if none is given) and the key history,
    updated when the signing key changed."""
    when = now or dt.datetime.now(dt.UTC)
    key = _signing_key(conf, data_dir, environ)
    jwk = public_jwk(key.public_key())
    known = _record_use(data_dir / HISTORY_FILE, jwk, when)
    return KeyRing(key, jwk["kid"], known, dt.timedelta(days=conf.lifetime_days))


def listed_keys(
    conf: ReceiptSettings, data_dir: Path, now: dt.datetime | None = None
) -> dict[str, Ed25519PublicKey]:
    """The keys this deployment's JWKS lists, read from its key history (no key is
    made or changed: for verifying on the operator's side)."""
    when = now or dt.datetime.now(dt.UTC)
    lifetime = dt.timedelta(days=conf.lifetime_days)
    known = _read_history(data_dir / HISTORY_FILE)
    return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in known if k.listed(when, lifetime)}


def known_keys(data_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Every key in the key history, expired or not (for the policy log)."""
    return {k.jwk["kid"]: key_from_jwk(k.jwk) for k in _read_history(data_dir / HISTORY_FILE)}


def keys_of_jwks(raw: bytes) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a saved JWKS document, by ``kid``."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError("the JWKS is not valid JSON") from exc
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise ConfigError("the JWKS has no 'keys' list")
    return {k["kid"]: key_from_jwk(k) for k in keys if isinstance(k, dict) and "kid" in k}


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


def _record_use(path: Path, jwk: dict[str, str], now: dt.datetime) -> tuple[KnownKey, ...]:
    known = _read_history(path)
    if known and known[-1].jwk["kid"] == jwk["kid"] and known[-1].retired_at is None:
        return tuple(known)
    updated = [
        KnownKey(k.jwk, k.first_used, k.retired_at or now)
        for k in known
        if k.jwk["kid"] != jwk["kid"]
    ]
    updated.append(KnownKey(jwk, now, None))
    _write_history(path, updated)
    return tuple(updated)


def _read_history(path: Path) -> list[KnownKey]:
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON") from exc
    return [
        KnownKey(
            k["jwk"],
            dt.datetime.fromisoformat(k["first_used"]),
            dt.datetime.fromisoformat(k["retired_at"]) if k.get("retired_at") else None,
        )
        for k in raw.get("keys", [])
    ]


def _write_history(path: Path, known: list[KnownKey]) -> None:
    rows = [
        {
            "jwk": k.jwk,
            "first_used": k.first_used.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
        }
        for k in known
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps({"keys": rows}, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)
