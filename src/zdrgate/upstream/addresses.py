"""Which network addresses the gateway may fetch a client-supplied URL from (SSRF).

A hostname is resolved and *every* address it resolves to is checked; the check
happens inside the connector's resolver, so the address connected to is the address
checked (no second lookup an attacker's DNS could answer differently).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], bool]


def public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    Refuses loopback, private (RFC 1918, ULA), link-local (incl. cloud metadata
    169.254.169.254), shared (CGNAT), multicast, reserved and unspecified addresses,
    and IPv6 forms that embed one of them (IPv4-mapped, 6to4, Teredo).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not public_address(embedded):
            return False
    return ip.is_global and not ip.is_multicast


class AddressRefused(OSError):
    """A URL's host resolved to an address the gateway must not connect to."""


class GuardedResolver(AbstractResolver):
    """Resolves with ``inner`` and refuses the host if any address fails ``allowed``."""

    def __init__(self, inner: AbstractResolver, allowed: AddressCheck) -> None:
        self._inner = inner
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(self._allowed(_ip(r["host"])) for r in results):
            raise AddressRefused("host resolves to a refused address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])


def literal_address(host: str) -> IPAddress | None:
    """The address of an IP-literal host (``[::1]`` or ``10.0.0.1``), else None."""
    try:
        return _ip(host.strip("[]"))
    except ValueError:
        return None
