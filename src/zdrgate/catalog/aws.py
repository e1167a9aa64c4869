"""AWS providers (Bedrock): credentials from the standard AWS variables, and Regions.

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

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from zdrgate.catalog.model import AwsCredentials

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
