"""`zdrgate egress-proxy`: the gateway's https calls tunnel through it (the transport's
CONNECT), and it opens tunnels only to the hosts on its allowlist."""

from __future__ import annotations

import asyncio

import pytest
import trustme

from unit.test_transport import CANARY, SECRET, tls_upstream, trusting
from zdrgate.protocols import ErrorKind
from zdrgate.upstream import UpstreamFailure
from zdrgate.upstream.egress import EgressProxy
from zdrgate.upstream.http1 import Origin
from zdrgate.upstream.proxy import ProxyTransport


async def test_a_listed_host_is_tunnelled_with_tls_end_to_end() -> None:
    ca = trustme.CA()
    server, origin, seen = await tls_upstream(ca)
    proxy = await EgressProxy([(origin.host, origin.port)]).start("127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    transport = ProxyTransport(f"http://127.0.0.1:{port}", ssl_context=trusting(ca))
    await transport.start()
    try:
        headers = [("authorization", f"Bearer {SECRET}")]
        response = await transport.request(origin, "POST", "/v1/x", headers, CANARY.encode())
        assert response.status == 200 and await response.read() == b"{}"
        response.release()
    finally:
        await transport.close()
        proxy.close()
        server.close()
    assert seen and seen[0].startswith(b"POST /v1/x HTTP/1.1")


async def test_a_host_not_on_the_list_is_refused_and_never_reached() -> None:
    ca = trustme.CA()
    server, origin, seen = await tls_upstream(ca)
    proxy = await EgressProxy([("api.groq.com", 443)]).start("127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    transport = ProxyTransport(f"http://127.0.0.1:{port}", ssl_context=trusting(ca))
    await transport.start()
    try:
        with pytest.raises(UpstreamFailure) as failure:
            await transport.request(origin, "POST", "/v1/x", [], b"")
        assert failure.value.kind is ErrorKind.CONNECT_ERROR
        # The right host on another port is another destination.
        elsewhere = Origin("https", "api.groq.com", 8443)
        with pytest.raises(UpstreamFailure):
            await transport.request(elsewhere, "POST", "/v1/x", [], b"")
    finally:
        await transport.close()
        proxy.close()
        server.close()
    assert seen == []


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET http://api.groq.com/ HTTP/1.1\r\nHost: api.groq.com\r\n\r\n", b"405"),
        (b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n", b"403"),
        (b"CONNECT api.groq.com HTTP/1.1\r\n\r\n", b"403"),
    ],
)
async def test_only_connect_to_a_listed_host_port_is_answered_200(
    head: bytes, status: bytes
) -> None:
    proxy = await EgressProxy([("api.groq.com", 443)]).start("127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    answer = await reader.read()
    writer.close()
    proxy.close()
    assert answer.split(b" ")[1] == status
