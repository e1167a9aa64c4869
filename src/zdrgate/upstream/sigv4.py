"""AWS Signature Version 4 (header form), for calls to AWS services such as Bedrock.

The canonical request is method, URI (each path segment percent-encoded again, as
every service but S3 expects), sorted query, the signed headers (lower-cased names,
values with runs of spaces collapsed), their names, and the SHA-256 of the body. It
is hashed into the string to sign, which is HMAC'd with a key derived from the
secret, the date, the Region and the service. Checked against AWS's published test
suite (``tests/data/aws-sig-v4-test-suite``). Derived keys are cached per day,
Region and service: the four HMACs of the derivation are most of a signature's cost.

Usage::

    headers = sign(credentials, "eu-west-1", "bedrock", "POST",
                   "bedrock-runtime.eu-west-1.amazonaws.com", "/model/m/converse",
                   {"content-type": "application/json"}, body, now)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote, unquote

from zdrgate.catalog.model import AwsCredentials

ALGORITHM = "AWS4-HMAC-SHA256"


def sign(
    credentials: AwsCredentials,
    region: str,
    service: str,
    method: str,
    host: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    now: dt.datetime,
) -> dict[str, str]:
    """The headers to add: ``x-amz-date``, ``authorization`` and, with temporary
    credentials, ``x-amz-security-token`` (signed too)."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    added = {"x-amz-date": stamp}
    if credentials.session_token:
        added["x-amz-security-token"] = credentials.session_token
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed.update(added, host=host)
    names = sorted(signed)
    path, _, query = target.partition("?")
    canonical = "\n".join(
        (
            method.upper(),
            quote(path, safe="/~"),
            canonical_query(query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = signing_key(credentials.secret_access_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    added["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added


def canonical_query(query: str) -> str:
    """Parameters sorted by name then value, each part percent-encoded once."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        name, _, value = item.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _encode(part: str) -> str:
    return quote(unquote(part), safe="-_.~")


@lru_cache(maxsize=64)
def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
