"""Compact JWS (RFC 7515) with Ed25519 (``alg: EdDSA``, RFC 8037), and JWK thumbprints.

Usage::

    key = Ed25519PrivateKey.generate()
    token = sign_compact({"alg": "EdDSA", "kid": thumbprint(key.public_key())}, claims, key)
    header, claims = verify_compact(token, {kid: public_key})

Why by hand: the compact form is three base64url parts joined by dots, and the
signature is ``cryptography``'s Ed25519. PyJWT and joserfc do the same with
validation layers that cost a third more per receipt (docs/decisions.md); any of them
verifies what this signs (tests/test_receipts_jose.py checks with PyJWT).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG = "EdDSA"


class InvalidToken(Exception):
    """A token that is malformed, signed by an unknown key, or whose signature fails."""


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(text: str | bytes) -> bytes:
    raw = text.encode("ascii") if isinstance(text, str) else text
    return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The key as an OKP JWK (RFC 8037), with its thumbprint as ``kid``."""
    x = b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": _thumbprint_of(x),
            "alg": ALG, "use": "sig"}


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint: sha256 of the required members in lexical order."""
    return public_jwk(key)["kid"]


def _thumbprint_of(x: str) -> str:
    canonical = orjson.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})  # already sorted
    return b64url(hashlib.sha256(canonical).digest()).decode("ascii")


def key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise InvalidToken("not an Ed25519 OKP key")
    try:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    except ValueError as exc:
        raise InvalidToken("malformed Ed25519 key") from exc


def signer(header: Mapping[str, Any], key: Ed25519PrivateKey) -> Signer:
    return Signer(b64url(orjson.dumps(dict(header))) + b".", key)


class Signer:
    """Signs payloads under one fixed protected header (encoded once)."""

    __slots__ = ("_key", "_prefix")

    def __init__(self, prefix: bytes, key: Ed25519PrivateKey) -> None:
        self._prefix = prefix
        self._key = key

    def sign(self, claims: Mapping[str, Any]) -> str:
        signing_input = self._prefix + b64url(orjson.dumps(claims))
        return (signing_input + b"." + b64url(self._key.sign(signing_input))).decode("ascii")


def sign_compact(
    header: Mapping[str, Any], claims: Mapping[str, Any], key: Ed25519PrivateKey
) -> str:
    return signer(header, key).sign(claims)


def unverified_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("a compact JWS has three parts")
    return _json_part(parts[0])


def verify_compact(
    token: str, keys: Mapping[str, Ed25519PublicKey]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of ``token`` if its ``kid`` is one of ``keys`` and its
    signature holds; :class:`InvalidToken` otherwise."""
    header = unverified_header(token)
    if header.get("alg") != ALG:
        raise InvalidToken(f"alg must be {ALG}")
    key = keys.get(str(header.get("kid")))
    if key is None:
        raise InvalidToken("signed by a key this deployment does not list")
    signing_input, _, signature = token.rpartition(".")
    try:
        key.verify(b64url_decode(signature), signing_input.encode("ascii"))
    except (InvalidSignature, ValueError) as exc:
        raise InvalidToken("signature does not verify") from exc
    return header, _json_part(signing_input.split(".")[1])


def _json_part(part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(b64url_decode(part))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidToken("a part is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("a part is not a JSON object")
    return value
