"""AWS providers (Bedrock): credentials from the standard AWS sources, and Regions.

Credentials, in the AWS SDKs' order: the keys in ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` (``AWS_SESSION_TOKEN``); a web identity (``AWS_ROLE_ARN`` with
``AWS_WEB_IDENTITY_TOKEN_FILE``: EKS IRSA); the keys of a profile in the shared
credentials file (``AWS_PROFILE``, default ``default``; ``AWS_SHARED_CREDENTIALS_FILE``,
default ``~/.aws/credentials``); the container credentials endpoint
(``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` or ``_FULL_URI``: ECS, EKS Pod Identity);
with ``providers.<id>.instance_role``, the EC2 instance's role (IMDSv2). The web
identity, the container and the instance give temporary keys, obtained and renewed by
``upstream.aws_keys``. SSO and role-chaining profiles are not read.

A Bedrock runtime host names its Region (``bedrock-runtime.eu-west-3.amazonaws.com``);
SigV4 signs for that Region, and an operator's ``region`` setting moves the catalog's
base URL there. Region names are checked against :data:`REGION`, which has no dot, so
a configured Region can only ever name an ``amazonaws.com`` runtime host.

Usage::

    credentials = aws_credentials(os.environ)      # None unless both keys are set
    region_of_host("bedrock-runtime.eu-west-1.amazonaws.com")   # "eu-west-1"
    in_region("https://bedrock-runtime.us-east-1.amazonaws.com", "eu-west-3")
"""

from __future__ import annotations

import configparser
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from zdrgate.catalog.model import AwsCredentials, AwsCredentialSource
from zdrgate.errors import ConfigError

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
_RUNTIME_HOST = re.compile(
    r"^(?P<service>bedrock-runtime(-fips)?)\.(?P<region>[a-z]{2}(-gov)?-[a-z]+-[0-9])"
    r"\.amazonaws\.com$"
)
# Bedrock's geographic cross-region inference profiles (the ``us.``/``eu.``/...
# prefixes of model ids) and the Regions they may be called from.
_AU = frozenset({"ap-southeast-2", "ap-southeast-4"})
_JP = frozenset({"ap-northeast-1", "ap-northeast-3"})


def aws_credentials(environ: Mapping[str, str]) -> AwsCredentials | None:
    """The access keys of ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and
    ``AWS_SESSION_TOKEN``), or None unless both keys are set."""
    key_id = environ.get("AWS_ACCESS_KEY_ID", "").strip()
    secret = environ.get("AWS_SECRET_ACCESS_KEY", "").strip()
    if not key_id or not secret:
        return None
    token = environ.get("AWS_SESSION_TOKEN", "").strip() or None
    return AwsCredentials(key_id, secret, token)


def aws_credential_chain(
    environ: Mapping[str, str], region: str, instance_role: bool = False
) -> AwsCredentials | AwsCredentialSource | None:
    """The first source of the SDKs' order that is set (module docstring), or None; the
    EC2 instance's role last, and only when the operator asked for it."""
    return (
        aws_credentials(environ)
        or web_identity(environ, region)
        or profile_credentials(environ)
        or container_credentials(environ)
        or (instance_credentials(environ) if instance_role else None)
    )


def sts_url(region: str) -> str:
    """AWS STS in ``region`` (regional, as the SDKs call it now)."""
    return f"https://sts.{region}.amazonaws.com/"


def web_identity(environ: Mapping[str, str], region: str) -> AwsCredentialSource | None:
    role = environ.get("AWS_ROLE_ARN", "")
    token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    if not role or not token_file:
        return None
    url = environ.get("AWS_ENDPOINT_URL_STS") or sts_url(region)
    _trusted("AWS_ENDPOINT_URL_STS", url)
    name = environ.get("AWS_ROLE_SESSION_NAME") or "zdrgate"
    return AwsCredentialSource("web_identity", url, role, token_file, session_name=name)


def profile_credentials(environ: Mapping[str, str]) -> AwsCredentials | None:
    """The keys of ``AWS_PROFILE`` (or ``default``) in the shared credentials file, else
    None: a profile without keys (SSO, a role to assume) or no readable file is not a
    reason to stop a gateway that may not use Bedrock at all (its endpoints then say
    ``no_credentials``)."""
    path_text = environ.get("AWS_SHARED_CREDENTIALS_FILE") or (
        str(Path(environ["HOME"]) / ".aws" / "credentials") if "HOME" in environ else ""
    )
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if not path_text or not parser.read(path_text, encoding="utf-8"):
            return None
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    name = environ.get("AWS_PROFILE") or "default"
    return _profile_keys(parser[name]) if parser.has_section(name) else None


def _profile_keys(section: configparser.SectionProxy) -> AwsCredentials | None:
    key_id = section.get("aws_access_key_id", "").strip()
    secret = section.get("aws_secret_access_key", "").strip()
    if not key_id or not secret:
        return None
    return AwsCredentials(key_id, secret, section.get("aws_session_token", "").strip() or None)


# The container credentials hosts the AWS SDKs accept over http (ECS, EKS Pod Identity).
_CONTAINER_HOSTS = frozenset({"169.254.170.2", "169.254.170.23", "fd00:ec2::23"})


def container_credentials(environ: Mapping[str, str]) -> AwsCredentialSource | None:
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
    full = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    if relative:
        url, name = "http://169.254.170.2" + relative, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
        if not relative.startswith("/") or urlsplit(url).hostname != "169.254.170.2":
            raise ConfigError(f"{name}: must be a path on 169.254.170.2")
    elif full:
        url, name = full, "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    else:
        return None
    _trusted(name, url, _CONTAINER_HOSTS)
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN") or None
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
    return AwsCredentialSource("container", url, token_file=token_file, token=token)


_IMDS_HOSTS = frozenset({"169.254.169.254", "fd00:ec2::254"})


def instance_credentials(environ: Mapping[str, str]) -> AwsCredentialSource:
    """The EC2 instance metadata service (IMDSv2), where the instance role's keys are."""
    url = environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or "http://169.254.169.254"
    _trusted("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, _IMDS_HOSTS)
    return AwsCredentialSource("instance", url.rstrip("/"))


def _trusted(name: str, url: str, http_hosts: frozenset[str] = frozenset()) -> None:
    """https anywhere; http only at a loopback address or one of ``http_hosts``; never
    user info (the message names the scheme and host only: the URL may hold a secret)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise ConfigError(f"{name}: not a URL") from None
    where = f"{parts.scheme}://{host}"
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name}: {where}: credentials in the URL are refused")
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and (host in http_hosts or _loopback(host)):
        return
    raise ConfigError(f"{name}: {where} must be https, or http at a loopback address")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def region_of_host(host: str) -> str | None:
    """The Region a Bedrock runtime host serves, else None."""
    match = _RUNTIME_HOST.match(host.lower().rstrip("."))
    return match.group("region") if match else None


def in_region(url: str, region: str) -> str | None:
    """``url`` moved to ``region`` if it is a Bedrock runtime URL, else None."""
    parts = urlsplit(url)
    match = _RUNTIME_HOST.match((parts.hostname or "").lower())
    if match is None or parts.port is not None or not REGION.match(region):
        return None
    host = f"{match.group('service')}.{region}.amazonaws.com"
    return parts._replace(netloc=host).geturl()


def geography(region: str) -> str:
    """The cross-region profile prefix a Region belongs to (``eu-west-3`` -> ``eu``)."""
    if region in _AU:
        return "au"
    if region in _JP:
        return "jp"
    head = region.split("-", maxsplit=1)[0]
    return "apac" if head == "ap" else head
