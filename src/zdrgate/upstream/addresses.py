"""Which network addresses the gateway may fetch a client-supplied URL from (SSRF).

A host is first read the way a socket library would read it (:func:`host_address`):
``127.1``, ``2130706433``, ``0x7f.1`` and ``0177.0.0.1`` are all 127.0.0.1 to
``inet_aton``, so they are checked as that address, and refused unless written as
the canonical dotted quad. A hostname is resolved and *every* address it resolves
to is checked; the check happens inside the connector's resolver, so the address
connected to is the address checked (no second lookup an attacker's DNS could
answer differently).

>>> host_address("0x7f.1")
(IPv4Address('127.0.0.1'), False)
>>> public_address(ipaddress.ip_address("64:ff9b::10.0.0.5"))
False
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressCheck = Callable[[IPAddress], bool]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the low 32 bits are IPv4
# Forms with nothing legitimate to fetch behind them: IPv4-compatible (deprecated,
# RFC 4291), SIIT IPv4-translated (RFC 2765) and local-use NAT64 (RFC 8215).
_NEVER = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)
_NUMERIC_PART = re.compile(r"0x[0-9a-f]*|[0-9]+", re.ASCII)


def public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    Refuses loopback, private (RFC 1918, ULA), link-local (incl. cloud metadata
    169.254.169.254), shared (CGNAT), multicast, reserved and unspecified addresses,
    and IPv6 forms that embed one of them (IPv4-mapped, NAT64, 6to4, Teredo) or that
    only wrap IPv4 (IPv4-compatible, IPv4-translated).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NEVER):
            return False
        if not all(public_address(v4) for v4 in _embedded_ipv4(ip)):
            return False
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def host_address(host: str) -> tuple[IPAddress, bool] | None:
    """The address an IP-literal or numeric host stands for, and whether it is written
    canonically; None for a hostname (to be resolved).

    Follows the URL standard: a host whose last label is a number is an IPv4 address
    in any of ``inet_aton``'s forms (1 to 4 parts, decimal, ``0x`` hex, ``0`` octal).
    Raises ``ValueError`` for a numeric host that is no address (``1.2.3.4.5``,
    ``256.1.1.1``, ``08.1``, ``foo.123``).
    """
    text = host.strip("[]").lower()
    if ":" in text:
        return ipaddress.IPv6Address(text.split("%", 1)[0]), True
    bare = text.removesuffix(".")
    labels = bare.split(".")
    if not _NUMERIC_PART.fullmatch(labels[-1]):
        return None
    address = ipaddress.IPv4Address(_ipv4_number(labels))
    return address, str(address) == text


def _ipv4_number(labels: list[str]) -> int:
    if len(labels) > 4 or not all(_NUMERIC_PART.fullmatch(label) for label in labels):
        raise ValueError("not an IPv4 address")
    numbers = [_part(label) for label in labels]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 part out of range")
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return value


def _part(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)  # "08" raises ValueError, as inet_aton refuses it
    return int(label)


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
