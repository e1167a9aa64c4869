"""Temporary AWS keys for SigV4 when no keys are set (``AwsCredentialSource``): from STS
``AssumeRoleWithWebIdentity`` with the pod's web identity token (EKS IRSA), from the
container credentials endpoint (ECS, EKS Pod Identity), or from the EC2 instance's role
(IMDSv2: a session token, the role's name, its keys). Obtained through the gateway's
transport when a call first needs them, kept in memory only and renewed five minutes
before their ``Expiration`` (``upstream.renewing``). A source that refuses or answers
without keys fails the call as ``upstream_auth_failed``; its body is not relayed.

Usage::

    keys = await AwsKeyCache(transport).keys(provider)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlencode

import orjson

from zdrgate.catalog.model import AwsCredentials, AwsCredentialSource, Provider
from zdrgate.protocols.errors import ErrorKind
from zdrgate.upstream.renewing import CredentialCache
from zdrgate.upstream.transport import UpstreamFailure

SESSION_SECONDS = 3600
IMDS_TOKEN_SECONDS = "21600"  # noqa: S105 - a lifetime, not a secret
_STS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
_FORM = (("content-type", "application/x-www-form-urlencoded"), ("accept", "text/xml"))


class AwsKeyCache(CredentialCache[AwsCredentialSource, AwsCredentials]):
    async def keys(self, provider: Provider) -> AwsCredentials:
        source = provider.aws_source
        if source is None:  # the policy makes such endpoints unroutable
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, provider.id)
        return await self._held.get(source, lambda: self._obtain(source, provider.id))

    async def _obtain(
        self, source: AwsCredentialSource, provider_id: str
    ) -> tuple[AwsCredentials, float]:
        read = {"web_identity": self._web_identity, "instance": self._instance}
        try:
            found = await read.get(source.kind, self._container)(source, provider_id)
        except (OSError, UnicodeDecodeError):  # a token file that cannot be read
            found = None
        if found is None:
            raise UpstreamFailure(ErrorKind.AUTH_FAILED, provider_id)
        keys, expires = found
        return keys, max(1.0, expires - self._wall())

    async def _web_identity(self, source: AwsCredentialSource, where: str) -> _Found:
        token = (await asyncio.to_thread(Path(source.token_file).read_text)).strip()
        if not token:
            return None
        form = {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": source.role_arn,
            "RoleSessionName": source.session_name,
            "WebIdentityToken": token,
            "DurationSeconds": str(SESSION_SECONDS),
        }
        body = urlencode(form).encode()
        return _sts_keys(await self._fetch(source.url, "POST", _FORM, body, where))

    async def _instance(self, source: AwsCredentialSource, where: str) -> _Found:
        """IMDSv2: a session token (PUT), the instance role's name, then its keys."""
        ttl = [("x-aws-ec2-metadata-token-ttl-seconds", IMDS_TOKEN_SECONDS)]
        raw = await self._fetch(f"{source.url}/latest/api/token", "PUT", ttl, b"", where)
        token = raw.decode(errors="replace").strip()
        if not token or not token.isprintable():
            return None
        session = [("x-aws-ec2-metadata-token", token)]
        roles_url = f"{source.url}/latest/meta-data/iam/security-credentials/"
        names = await self._fetch(roles_url, "GET", session, b"", where)
        role = names.decode(errors="replace").split("\n")[0].strip()
        if not role or "/" in role:
            return None
        keys = await self._fetch(roles_url + quote(role), "GET", session, b"", where)
        return _container_keys(keys)

    async def _container(self, source: AwsCredentialSource, where: str) -> _Found:
        token = source.token
        if source.token_file:
            token = (await asyncio.to_thread(Path(source.token_file).read_text)).strip()
        headers = [("accept", "application/json")]
        if token and token.isprintable():
            headers.append(("authorization", token))
        return _container_keys(await self._fetch(source.url, "GET", headers, b"", where))


_Found = tuple[AwsCredentials, float] | None  # the keys and their expiry (Unix time)


def _sts_keys(body: bytes) -> tuple[AwsCredentials, float] | None:
    """The keys in STS's XML answer (``.../Credentials``) and their expiry (Unix time)."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - STS's answer, bounded; expat refuses entity bombs
    except ET.ParseError:
        return None
    found = root.find(f"{_STS}AssumeRoleWithWebIdentityResult/{_STS}Credentials")
    if found is None:
        return None
    fields = {child.tag.removeprefix(_STS): (child.text or "") for child in found}
    return _keys(fields.get("AccessKeyId"), fields.get("SecretAccessKey"),
                 fields.get("SessionToken"), fields.get("Expiration"))  # fmt: skip


def _container_keys(body: bytes) -> tuple[AwsCredentials, float] | None:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict):
        return None
    return _keys(answer.get("AccessKeyId"), answer.get("SecretAccessKey"),
                 answer.get("Token"), answer.get("Expiration"))  # fmt: skip


def _keys(
    key_id: object, secret: object, token: object, expiration: object
) -> tuple[AwsCredentials, float] | None:
    if not isinstance(key_id, str) or not isinstance(secret, str) or not key_id or not secret:
        return None
    if not isinstance(expiration, str):
        return None
    try:
        expires = dt.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    session = token if isinstance(token, str) and token else None
    return AwsCredentials(key_id, secret, session), expires.timestamp()
