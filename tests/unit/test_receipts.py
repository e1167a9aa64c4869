"""Receipt keys, signing and verification, checked against an independent JOSE
library (PyJWT) that zdrgate does not use to sign."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from zdrgate.accounts.store import Store
from zdrgate.config import ReceiptSettings
from zdrgate.errors import ConfigError
from zdrgate.receipts import (
    ReceiptFacts,
    ReceiptSigner,
    digest,
    known_keys,
    listed_keys,
    load_key_ring,
    receipt_in_exchange,
    receipt_in_stream,
    rotate_generated_key,
    share_history,
    stripped,
    verify_receipt,
)
from zdrgate.receipts.jws import _thumbprint_of, public_jwk
from zdrgate.receipts.keys import RENEW_AHEAD

FACTS = ReceiptFacts(
    model="test/chat",
    endpoint="fake/ok",
    provider="fake",
    region=None,
    policy="sha256:" + "ab" * 32,
    verified_on="2026-11-01",
    retention_days=0,
    origin="https://api.fake.example",
)
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def sign(ring, req: bytes = b'{"q":1}', res: bytes | None = b'{"a":2}') -> str:  # type: ignore[no-untyped-def]
    signer = ReceiptSigner(ring, "https://gw.example", clock=lambda: 1_800_000_000)
    marks = stripped(["user", "messages"], [(b"cookie", b"x"), (b"accept", b"*/*")])
    return signer.sign("req_1", FACTS, marks, digest(req), None if res is None else digest(res))


def pyjwt_decode(token: str, ring) -> dict:  # type: ignore[no-untyped-def]
    jwk = ring.jwks(NOW)["keys"][-1]
    key = jwt.PyJWK(jwk).key
    return jwt.decode(token, key, algorithms=["EdDSA"], options={"verify_iat": False})


def test_rfc8037_thumbprint_vector() -> None:
    # RFC 8037, appendix A.3: the thumbprint of the example Ed25519 key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert _thumbprint_of(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_generated_key_is_0600_and_reused(tmp_path: Path) -> None:
    ring = load_key_ring(ReceiptSettings(), tmp_path, {}, NOW)
    mode = stat.S_IMODE((tmp_path / "receipt-signing-key.pem").stat().st_mode)
    assert mode == 0o600
    again = load_key_ring(ReceiptSettings(), tmp_path, {}, NOW)
    assert again.kid == ring.kid
    assert [k["kid"] for k in again.jwks(NOW)["keys"]] == [ring.kid]


def test_pyjwt_verifies_a_receipt_with_the_exact_claims(tmp_path: Path) -> None:
    ring = load_key_ring(ReceiptSettings(), tmp_path, {}, NOW)
    token = sign(ring)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": ring.kid, "typ": "zdr-receipt+jws"}
    claims = pyjwt_decode(token, ring)
    assert set(claims) == {
        "iss", "iat", "jti", "model", "endpoint", "provider", "region", "policy",
        "verified_on", "retention_days", "origin", "trains", "stripped", "req", "res",
    }
    assert claims["trains"] is False
    assert claims["stripped"] == {"fields": ["user"], "headers": ["cookie"]}
    assert claims["req"] == digest(b'{"q":1}')


def test_altered_body_or_token_fails(tmp_path: Path) -> None:
    ring = load_key_ring(ReceiptSettings(), tmp_path, {}, NOW)
    keys = ring.verification_keys(NOW)
    token = sign(ring)
    assert verify_receipt(token, keys, b'{"q":1}', b'{"a":2}').ok
    bad = verify_receipt(token, keys, b'{"q":1}', b'{"a":3}')
    assert not bad.ok and bad.checks["res"] == "mismatch"
    head, body, sig = token.split(".")
    forged = f"{head}.{body[:-2]}AA.{sig}"
    assert verify_receipt(forged, keys).checks["signature"] == "failed"
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_decode(forged, ring)


def migrated(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/keys.db")
    store.migrate()
    return store


def test_rotation_keeps_the_old_key_until_receipts_expire(tmp_path: Path) -> None:
    conf = ReceiptSettings(lifetime_days=30)
    store = migrated(tmp_path)
    old = load_key_ring(conf, tmp_path, {}, NOW)
    share_history(old, store.engine, tmp_path, NOW)
    token = sign(old)
    new_kid = rotate_generated_key(tmp_path)
    later = NOW + dt.timedelta(days=1)
    new = load_key_ring(conf, tmp_path, {}, later)
    share_history(new, store.engine, tmp_path, later)
    assert new.kid == new_kid != old.kid
    assert verify_receipt(token, new.verification_keys(later)).ok
    listed = [k["kid"] for k in new.jwks(later)["keys"]]
    assert listed == [old.kid, new.kid]
    # Listed for the lifetime after the last moment the old key could sign (its renewal).
    expired = NOW + RENEW_AHEAD + dt.timedelta(days=30, seconds=1)
    assert [k["kid"] for k in new.jwks(expired)["keys"]] == [new.kid]
    assert not verify_receipt(token, new.verification_keys(expired)).ok
    assert set(listed_keys(conf, store.engine, later)) == {old.kid, new.kid}
    assert set(known_keys(store.engine)) == {old.kid, new.kid}
    store.close()


def test_a_running_instance_renews_its_key(tmp_path: Path) -> None:
    conf = ReceiptSettings(lifetime_days=30)
    store = migrated(tmp_path)
    ring = load_key_ring(conf, tmp_path, {}, NOW)
    share_history(ring, store.engine, tmp_path, NOW)
    much_later = NOW + dt.timedelta(days=90)
    ring.renew(much_later)  # still signing 90 days on: still listed for 30 more
    assert set(listed_keys(conf, store.engine, much_later + dt.timedelta(days=29))) == {ring.kid}
    assert listed_keys(conf, store.engine, much_later + dt.timedelta(days=31)) == {}
    store.close()


def test_a_per_pod_key_file_of_an_older_version_is_imported(tmp_path: Path) -> None:
    conf = ReceiptSettings(lifetime_days=30)
    other = Ed25519PrivateKey.generate()
    jwk = public_jwk(other.public_key())
    (tmp_path / "receipt-keys.json").write_bytes(orjson.dumps({"keys": [
        {"jwk": jwk, "first_used": NOW.isoformat(), "retired_at": NOW.isoformat()}]}))
    store = migrated(tmp_path)
    ring = load_key_ring(conf, tmp_path, {}, NOW)
    share_history(ring, store.engine, tmp_path, NOW)
    assert [k["kid"] for k in ring.jwks(NOW)["keys"]] == [jwk["kid"], ring.kid]
    gone = NOW + dt.timedelta(days=30, seconds=1)
    assert [k["kid"] for k in ring.jwks(gone)["keys"]] == [ring.kid]
    store.close()


def test_operator_key_from_env_or_file(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (tmp_path / "op.pem").write_bytes(pem)
    from_file = load_key_ring(ReceiptSettings(signing_key_file=str(tmp_path / "op.pem")),
                              tmp_path / "a", {}, NOW)
    env = {"ZDRGATE_RECEIPT_KEY": pem.decode()}
    from_env = load_key_ring(ReceiptSettings(), tmp_path / "b", env, NOW)
    assert from_file.kid == from_env.kid
    assert not (tmp_path / "a" / "receipt-signing-key.pem").exists()
    with pytest.raises(ConfigError, match="PEM"):
        load_key_ring(ReceiptSettings(), tmp_path / "c", {"ZDRGATE_RECEIPT_KEY": "nope"}, NOW)


def test_receipts_found_in_streams_and_saved_exchanges(tmp_path: Path) -> None:
    ring = load_key_ring(ReceiptSettings(), tmp_path, {}, NOW)
    keys = ring.verification_keys(NOW)
    events = b'data: {"x":1}\n\ndata: {"x":2}\n\n'
    token = sign(ring, res=events)
    stream = events + f": zdr-receipt={token}\n\n".encode() + b"data: [DONE]\n\n"
    found, covered = receipt_in_stream(stream)
    assert found == token and covered == events
    assert verify_receipt(found, keys, None, covered).ok
    plain = sign(ring)
    saved = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nZDR-Receipt: {plain}\r\n\r\n"
             ).encode() + b'{"a":2}'
    found, covered = receipt_in_exchange(saved)
    assert found == plain and verify_receipt(found, keys, b'{"q":1}', covered).ok
