"""Short-lived bearer tokens (``Auth.OAUTH``): obtained from the provider's token
endpoint through the gateway's transport (so through the egress proxy when one is set),
kept in memory only (never on disk, in a log or a metric), and renewed before they
expire (``upstream.renewing``: one request per client however many calls wait).

Two grants: client credentials (RFC 6749 4.4: Microsoft Entra ID for Azure OpenAI) and a
Google service account's assertion signed with its key (RFC 7523, RS256: Vertex AI). A
token endpoint that refuses, or answers without a token, fails the attempt as
``upstream_auth_failed`` (the next endpoint is tried); its body is dropped unread beyond
what names the token.

Usage::

    tokens = TokenCache(transport)
    headers = {"authorization": f"Bearer {await tokens.token(provider)}"}
"""

from __future__ import annotations

import base64
from functools import lru_cache
from urllib.parse import urlencode

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from zdrgate.catalog.model import OAuthClient, Provider
from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream.renewing import CredentialCache
from zdrgate.upstream.transport import UpstreamFailure

DEFAULT_LIFETIME = 3600.0  # when the answer has no expires_in
ASSERTION_SECONDS = 3600  # a service account assertion's own lifetime (Google's maximum)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_HEADERS = (
    ("content-type", "application/x-www-form-urlencoded"),
    ("accept", "application/json"),
)


class TokenCache(CredentialCache[OAuthClient, str]):
    async def token(self, provider: Provider) -> str:
        client = provider.oauth
        if client is None:  # the policy makes such endpoints unroutable
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, provider.id)
        return await self._held.get(client, lambda: self._obtain(client, provider.id))

    async def _obtain(self, client: OAuthClient, provider_id: str) -> tuple[str, float]:
        body = urlencode(self._grant(client)).encode()
        raw = await self._fetch(client.token_url, "POST", _HEADERS, body, provider_id)
        answer = _token_of(raw)
        if answer is None:
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, provider_id)
        return answer

    def _grant(self, client: OAuthClient) -> dict[str, str]:
        if client.private_key is not None:
            return {"grant_type": JWT_BEARER, "assertion": assertion(client, self._wall())}
        return {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret or "",
            "scope": client.scope,
        }


def assertion(client: OAuthClient, now: float) -> str:
    """A service account's signed JWT asking ``client.token_url`` for ``client.scope``."""
    issued = int(now)
    header = {"alg": "RS256", "typ": "JWT", **({"kid": client.key_id} if client.key_id else {})}
    claims = {
        "iss": client.client_id,
        "scope": client.scope,
        "aud": client.token_url,
        "iat": issued,
        "exp": issued + ASSERTION_SECONDS,
    }
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}".encode()
    assert client.private_key is not None
    key = _key(client.private_key)
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64(signature)}"


@lru_cache(maxsize=16)
def _key(pem: str) -> RSAPrivateKey:
    key = load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, RSAPrivateKey)  # checked when the config was read
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token_of(raw: bytes) -> tuple[str, float] | None:
    """The access token and its lifetime in seconds, from a token endpoint's answer."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
        return None
    lifetime = answer.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(lifetime, str) and lifetime.isdigit():  # Entra's v1 endpoint: a string
        lifetime = int(lifetime)
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    return token, float(lifetime)
