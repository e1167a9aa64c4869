"""The pooled HTTP/1.1 client, against scripted servers on 127.0.0.1 speaking raw bytes."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trustme

from zdrgate.upstream import http1
from zdrgate.upstream.http1 import Origin

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


class Server:
    """Counts connections; answers each request on a connection with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self, tls: ssl.SSLContext | None = None) -> http1.Origin:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        port = self.server.sockets[0].getsockname()[1]
        return http1.Origin("https" if tls else "http", "127.0.0.1", port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[..., Awaitable[tuple[Server, http1.Origin]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[Server] = []

    async def start(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[Server, Origin]:
        server = Server(handler)
        servers.append(server)
        return server, await server.start(tls)

    yield start
    for server in servers:
        assert server.server is not None
        server.server.close()


def keep_alive(reply: bytes, requests: list[bytes] | None = None) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await read_request(reader)
            if requests is not None:
                requests.append(request)
            writer.write(reply)
            await writer.drain()

    return handler


async def fetch(client: http1.Client, origin: Origin, body: bytes = b"{}") -> tuple[int, bytes]:
    conn, response = await client.request(
        origin, "POST", "/v1/x?q=1", [("content-type", "application/json")], body
    )
    try:
        return response.status, await response.read()
    finally:
        client.release(origin, conn)


async def test_connections_are_reused_and_the_request_is_framed(serve: Serve) -> None:
    seen: list[bytes] = []
    server, origin = await serve(keep_alive(OK, seen))
    client = http1.Client()
    assert await fetch(client, origin, b'{"a":1}') == (200, b"{}")
    assert await fetch(client, origin) == (200, b"{}")
    assert server.connections == 1
    first = seen[0]
    assert first.startswith(b"POST /v1/x?q=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{origin.port}\r\n".encode() in first
    assert b"Content-Length: 7\r\n" in first and first.endswith(b'\r\n\r\n{"a":1}')
    await client.close()


async def test_chunked_and_close_framed_bodies_are_read_whole(serve: Serve) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    _, origin = await serve(keep_alive(chunked))
    client = http1.Client()
    assert await fetch(client, origin) == (200, b"abcde")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    server, origin = await serve(until_close)
    assert await fetch(client, origin) == (200, b"all of it")
    assert await fetch(client, origin) == (200, b"all of it")
    assert server.connections == 2  # "Connection: close" is honoured
    await client.close()


async def test_informational_responses_are_skipped(serve: Serve) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
    _, origin = await serve(keep_alive(early + OK))
    client = http1.Client()
    assert await fetch(client, origin) == (200, b"{}")
    assert await fetch(client, origin) == (200, b"{}")  # and the connection stays usable
    await client.close()


async def test_gzip_bodies_are_decoded(serve: Serve) -> None:
    packed = gzip.compress(b'{"hello": "world"}' * 100)
    reply = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
             % len(packed)) + packed
    _, origin = await serve(keep_alive(reply))
    client = http1.Client()
    assert await fetch(client, origin) == (200, b'{"hello": "world"}' * 100)
    await client.close()


async def test_a_stale_pooled_connection_is_retried_once_on_a_new_one(serve: Serve) -> None:
    async def one_then_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(OK)
        await writer.drain()
        await read_request(reader)  # the second request on this connection: hang up silently

    server, origin = await serve(one_then_drop)
    client = http1.Client()
    assert await fetch(client, origin) == (200, b"{}")
    assert await fetch(client, origin) == (200, b"{}")
    assert server.connections == 2
    await client.close()


async def test_a_response_cut_short_is_an_error_not_a_retry(serve: Serve) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()

    server, origin = await serve(cut)
    client = http1.Client()
    with pytest.raises(http1.Disconnected):
        await fetch(client, origin)
    assert server.connections == 1
    await client.close()


async def test_silence_longer_than_the_read_timeout_fails(serve: Serve) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(5)

    _, origin = await serve(silent)
    client = http1.Client(read_timeout=0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(http1.ReadTimeout):
        await fetch(client, origin)
    assert asyncio.get_running_loop().time() - started < 1.0
    await client.close()


async def test_connect_errors_and_malformed_responses_are_typed(serve: Serve) -> None:
    server, origin = await serve(keep_alive(b"NOT HTTP AT ALL\r\n\r\n"))
    client = http1.Client()
    with pytest.raises(http1.MalformedResponse):
        await fetch(client, origin)
    assert server.server is not None
    server.server.close()
    await server.server.wait_closed()
    with pytest.raises(http1.ConnectFailed):
        await fetch(client, origin)
    await client.close()


async def test_header_injection_is_refused_before_anything_is_sent(serve: Serve) -> None:
    server, origin = await serve(keep_alive(OK))
    client = http1.Client()
    with pytest.raises(ValueError):
        await client.request(origin, "POST", "/", [("x-key", "a\r\nX-Evil: 1")], b"")
    assert server.connections == 0
    await client.close()


async def test_a_large_body_streams_through_with_flow_control(serve: Serve) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB, 8x the read buffer
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    _, origin = await serve(keep_alive(reply))
    client = http1.Client()
    conn, response = await client.request(origin, "GET", "/", [], b"")
    received = bytearray()
    async for data in response.iter_chunks():
        received += data
        await asyncio.sleep(0)  # a slow reader
    client.release(origin, conn)
    assert bytes(received) == big
    assert await fetch(client, origin) == (200, big)
    await client.close()


async def test_tls_is_verified_against_the_trust_store(serve: Serve) -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    _, origin = await serve(keep_alive(OK), server_ctx)

    untrusting = http1.Client()  # the system store does not know this CA
    with pytest.raises(http1.ConnectFailed):
        await fetch(untrusting, origin)
    await untrusting.close()

    trusting_ctx = ssl.create_default_context()
    ca.configure_trust(trusting_ctx)
    client = http1.Client(ssl_context=trusting_ctx)
    assert await fetch(client, origin) == (200, b"{}")
    await client.close()
