"""Evidence pages: the only outbound request that is not a model call.

``zdrgate catalog watch`` reads the pages a policy record cites as evidence. The
request carries no prompt and no credentials; the URL must be one the catalog names
(its origin among ``allowed``), ``http(s)`` without user info; redirects are not
followed (a 3xx is reported as it is); at most ``MAX_PAGE_BYTES`` are read.

Usage::

    status, body = await dispatcher.fetch_evidence(url, allowed_origins)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from zdrgate.upstream.transport import Transport, fetch

MAX_PAGE_BYTES = 2 * 1024 * 1024
_HEADERS = (
    ("accept", "text/html, text/plain;q=0.9, */*;q=0.5"),
    ("user-agent", "zdrgate-evidence-watch"),
)


class EvidenceRefused(Exception):
    """The URL is not one the catalog's evidence names, or not plain http(s)."""


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, lower-cased; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    default = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{suffix}"


async def fetch_page(
    transport: Transport, url: str, allowed: frozenset[str]
) -> tuple[int, bytes]:
    """Through the gateway's transport (so through the egress proxy when one is set);
    its failures arrive as ``UpstreamFailure``."""
    origin = origin_of(url)
    if origin is None or origin not in allowed:
        raise EvidenceRefused(f"{url!r} is not an evidence URL of the catalog")
    return await fetch(transport, url, "GET", _HEADERS, b"", MAX_PAGE_BYTES)
