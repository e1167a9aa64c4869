"""Image-URL hosts written so that a naive check misses the address behind them.

Each URL below points at a loopback listener (or a private address) in a form that
``inet_aton`` or the kernel reads as that address: numeric IPv4 shorthands and IPv6
forms that wrap IPv4. The fetcher must refuse each one before connecting, so the
listener must see zero connections. ``http`` is allowed here so that only the address
check stands between the URL and the listener.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from importlib.metadata import version

import pytest

from zdrgate.upstream.addresses import host_address, public_address
from zdrgate.upstream.assets import AssetFetcher, AssetRefused, FetchRules


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


LOOPBACK_FORMS = [
    "127.1",
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "017700000001",
    "0177.0.0.1",
    "127.0.1",
    "127.0.0.1.",
    "[::ffff:127.0.0.1]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[::ffff:0:127.0.0.1]",  # IPv4-translated (SIIT)
    "[64:ff9b::127.0.0.1]",  # NAT64 well-known prefix
    "[64:ff9b:1::127.0.0.1]",  # NAT64 local-use prefix
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
]
PRIVATE_FORMS = ["012.0.0.5", "10.5", "167772165", "0xa.0.0.5", "[64:ff9b::10.0.0.5]"]


@pytest.mark.parametrize("host", LOOPBACK_FORMS + PRIVATE_FORMS)
async def test_wrapped_private_hosts_are_refused_before_connecting(
    listener: Listener, host: str
) -> None:
    fetcher = AssetFetcher(FetchRules(schemes=frozenset({"http", "https"})))
    try:
        with pytest.raises(AssetRefused) as caught:
            await fetcher.public_image(f"http://{host}:{listener.port}/x.png")
    finally:
        await fetcher.close()
    assert caught.value.reason == "address_not_allowed"
    assert listener.accepted == 0


@pytest.mark.parametrize(
    ("host", "address", "canonical"),
    [
        ("127.1", "127.0.0.1", False),
        ("2130706433", "127.0.0.1", False),
        ("0x7f.1", "127.0.0.1", False),
        ("012.0.0.5", "10.0.0.5", False),
        ("93.184.216.34", "93.184.216.34", True),
        ("0x5db8d822", "93.184.216.34", False),
        ("[2606:4700::1111]", "2606:4700::1111", True),
    ],
)
def test_numeric_hosts_are_read_as_inet_aton_reads_them(
    host: str, address: str, canonical: bool
) -> None:
    assert host_address(host) == (ipaddress.ip_address(address), canonical)


@pytest.mark.parametrize("host", ["example.com", "cdn.example", "1e100.net", "x1.example."])
def test_names_are_left_to_the_resolver(host: str) -> None:
    assert host_address(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.1.1.1", "1.2.3.256", "08.1", "foo.123"])
def test_numeric_hosts_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(ValueError):
        host_address(host)


async def test_public_numeric_shorthand_is_refused_as_not_canonical() -> None:
    fetcher = AssetFetcher()
    try:
        with pytest.raises(AssetRefused) as caught:
            await fetcher.public_image("https://0x5db8d822/x.png")
    finally:
        await fetcher.close()
    assert caught.value.reason == "host_not_canonical"


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "8.8.8.8"]
)
def test_ipv6_wrapping_a_public_ipv4_stays_public(address: str) -> None:
    assert public_address(ipaddress.ip_address(address))


def test_installed_aiohttp_resolves_numeric_hosts() -> None:
    """aiohttp < 3.14.1 passed all-digit hosts straight to the socket, past any resolver."""
    parts = tuple(int(p) for p in version("aiohttp").split(".")[:3])
    assert parts >= (3, 14, 1)
