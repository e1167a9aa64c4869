"""Where an operator may point a provider: the rules for ``base_url``, checked at load.

A policy record describes what one company does with data sent to *its* servers, so
it covers only the origins that company serves from. The config merge applies two
rules (docs/security.md, "Upstream origins"):

* **Origin coverage.** A catalog provider's ``base_url`` may move to a host the
  catalog's record covers (the catalog's own and regional hosts, or the
  ``base_url_hosts`` patterns of a placeholder provider such as ``*.openai.azure.com``)
  over https on the default port. Any other origin must be listed in the operator's
  attestation (``zdr_attestation.origins``), or the endpoints are unroutable with
  ``origin_not_attested``.
* **Plain http** only reaches a loopback or private address of an endpoint the operator
  declared: a provider the catalog does not know, or a catalog provider's origin the
  operator attested (their own proxy, a test double). Anything else is a ``ConfigError``.

Usage::

    url = checked_base_url("providers.my.base_url", "http://10.0.0.5:8000/v1",
                           declared=True)
    covered = catalog_covers(provider, url)
"""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from zdrgate.catalog.model import Provider, origin_of
from zdrgate.errors import ConfigError

# Names only a local resolver answers: single labels (a container or Kubernetes
# service), RFC 6761 localhost, mDNS .local, ICANN's private-use .internal, RFC 8375.
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")


def checked_base_url(where: str, url: str, *, declared: bool) -> str:
    """``url`` without a trailing slash, or ``ConfigError`` naming ``where``.

    ``declared``: the operator declared this origin as theirs (a provider the catalog
    does not know, or an attested origin), so plain http may reach a private address.
    """
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{where}: malformed port in {url!r}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(f"{where}: must be an https:// URL with a host, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{where}: credentials in the URL are refused; use api_key_env")
    if parts.query or parts.fragment:
        raise ConfigError(f"{where}: a query or fragment is refused")
    if not (_is_ip(host) or _HOSTNAME.match(host)):
        raise ConfigError(f"{where}: {host!r} is not a valid host name")
    if parts.scheme == "http" and not (declared and private_host(host)):
        raise ConfigError(
            f"{where}: plain http:// is allowed only for a self-hosted provider the operator "
            "declared, at a loopback or private address (10/8, 172.16/12, 192.168/16, "
            "127/8, ::1, fc00::/7, localhost, a single-label or .internal name); "
            f"use https:// for {host}"
        )
    return url.rstrip("/")


def private_host(host: str) -> bool:
    """True for loopback and private addresses and for names only a local resolver knows.

    Link-local (169.254/16, where cloud metadata lives), unspecified and multicast
    addresses are refused; an IPv4-mapped IPv6 address is judged as its IPv4 form.
    """
    host = host.strip("[]").lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(_PRIVATE_SUFFIXES)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return False
    return ip.is_loopback or ip.is_private


def catalog_covers(provider: Provider, url: str) -> bool:
    """Whether the catalog's record for ``provider`` speaks for requests sent to ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port not in (None, 443):
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return any(fnmatchcase(host, pattern) for pattern in catalog_hosts(provider))


def catalog_hosts(provider: Provider) -> tuple[str, ...]:
    """Host patterns of the catalog's record: explicit, else base and regional hosts."""
    if provider.base_url_hosts:
        return provider.base_url_hosts
    urls = [provider.base_url, *(u for _, u in provider.regional_base_urls)]
    return tuple(sorted({(urlsplit(u).hostname or "").lower() for u in urls} - {""}))


def attested_origins(where: str, origins: list[str]) -> tuple[str, ...]:
    """The operator's attested origins, normalised (``https://Host:443/`` -> ``https://host``)."""
    out = []
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path.strip("/"):
            raise ConfigError(f"{where}: {origin!r} is not an origin (scheme://host[:port])")
        out.append(origin_of(origin))
    return tuple(out)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
