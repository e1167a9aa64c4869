# ruff: noqa: F811  (the imported ``serve`` fixture is a parameter name below)
"""Upstream responses are bounded: body size (after decoding), head size, a stalled
reader, SSE event size, and the path a call may take under its base URL (#11.9).

Scripted servers on 127.0.0.1 speak raw bytes (see test_http1). What each test
asserts is a byte count or an error, never a duration.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gzip

import pytest

from unit.test_http1 import Serve, keep_alive, read_request, serve  # noqa: F401  (a fixture)
from unit.test_policy_engine import endpoint
from zdrgate.protocols.errors import StreamProtocolError
from zdrgate.protocols.sse import SSEDecoder
from zdrgate.upstream import http1
from zdrgate.upstream.dispatch import UpstreamFailure, checked_url

LIMIT = 256 * 1024


async def test_a_body_over_the_limit_fails_without_reading_it_all(serve: Serve) -> None:
    big = b"x" * (4 * LIMIT)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    _, origin = await serve(keep_alive(reply))
    client = http1.Client(max_body_bytes=LIMIT)
    conn, response = await client.request(origin, "GET", "/", [], b"")
    with pytest.raises(http1.ResponseTooLarge):
        await response.read()
    client.release(origin, conn)
    await client.close()


async def test_an_endless_stream_stops_at_the_limit(serve: Serve) -> None:
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"data: " + b"y" * 8000 + b"\n\n"
        for _ in range(100_000):  # ~800 MB if nobody stopped it; bounded all the same
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            sent += len(chunk)

    _, origin = await serve(endless)
    client = http1.Client(max_body_bytes=LIMIT)
    conn, response = await client.request(origin, "GET", "/", [], b"")
    taken = 0
    with pytest.raises(http1.ResponseTooLarge):
        async for data in response.iter_chunks():
            taken += len(data)
    client.release(origin, conn)
    await client.close()
    assert taken <= LIMIT
    assert sent < 64 * LIMIT  # the connection was dropped, not drained


async def test_gzip_is_decoded_up_to_the_limit_only(serve: Serve) -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    reply = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
             % len(bomb)) + bomb
    _, origin = await serve(keep_alive(reply))
    client = http1.Client(max_body_bytes=LIMIT)
    conn, response = await client.request(origin, "GET", "/", [], b"")
    taken = 0
    with pytest.raises(http1.ResponseTooLarge):
        async for data in response.iter_chunks():
            taken += len(data)
    client.release(origin, conn)
    await client.close()
    assert taken <= LIMIT


async def test_repeated_headers_are_joined_and_a_huge_head_fails(serve: Serve) -> None:
    many = b"".join(b"X-Rep: %d\r\n" % i for i in range(2000))
    reply = b"HTTP/1.1 200 OK\r\n" + many + b"Content-Length: 2\r\n\r\n{}"
    _, origin = await serve(keep_alive(reply))
    client = http1.Client()
    conn, response = await client.request(origin, "GET", "/", [], b"")
    assert response.headers["x-rep"] == ", ".join(str(i) for i in range(2000))
    client.release(origin, conn)

    huge = b"".join(b"X-Rep: %s\r\n" % (b"v" * 1000) for _ in range(100))  # 100 KiB
    head = b"HTTP/1.1 200 OK\r\n" + huge + b"Content-Length: 0\r\n\r\n"
    _, origin = await serve(keep_alive(head))
    with pytest.raises(http1.MalformedResponse):
        await client.request(origin, "GET", "/", [], b"")
    await client.close()


async def test_a_stalled_reader_does_not_pin_the_upstream_connection(serve: Serve) -> None:
    big = b"z" * (8 * http1.READ_BUFFER_HIGH)
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(big) + big
    _, origin = await serve(keep_alive(reply))
    client = http1.Client(read_timeout=0.2)
    conn, response = await client.request(origin, "GET", "/", [], b"")
    chunks = response.iter_chunks()
    await chunks.__anext__()
    await asyncio.sleep(1.0)  # the reader stalls with the buffer full
    assert not conn.usable  # the watchdog dropped the connection
    with pytest.raises(http1.ReadTimeout):
        async for _ in chunks:
            pass
    client.release(origin, conn)
    await client.close()


def test_an_sse_event_over_the_limit_is_a_protocol_error() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    assert decoder.feed(b"data: " + b"a" * 900 + b"\n\n")[0].data == "a" * 900
    with pytest.raises(StreamProtocolError):
        decoder.feed(b"data: " + b"a" * 1001 + b"\n\n")
    line_path = SSEDecoder(max_event_bytes=1000)
    line_path.feed(b"event: x\ndata: " + b"b" * 600 + b"\n")
    with pytest.raises(StreamProtocolError):
        line_path.feed(b"data: " + b"b" * 600 + b"\n")


def test_a_line_that_never_ends_is_a_protocol_error() -> None:
    decoder = SSEDecoder(max_event_bytes=10_000)
    decoder.feed(b"data: ")
    with pytest.raises(StreamProtocolError):
        for _ in range(100):
            decoder.feed(b"c" * 1000)


def test_a_long_line_in_small_pieces_is_kept_once() -> None:
    """A 2 MiB line fed 1 KiB at a time: the pieces are kept, not re-joined per feed
    (which copied the whole line on every feed: quadratic). White-box, since a timing
    assertion would be flaky: the pieces wait in a list until the line ends."""
    decoder = SSEDecoder()
    decoder.feed(b"data: ")
    piece = b"d" * 1024
    for _ in range(2048):
        assert decoder.feed(piece) == []
    assert len(decoder._parts) == 2049
    (event,) = decoder.feed(b"\n\n")
    assert len(event.data) == 2048 * 1024


def test_many_events_in_one_chunk_are_cut_by_index() -> None:
    events = b"".join(b'data: {"i": %d}\n\n' % i for i in range(5000))
    mixed = b"".join(b"event: e\ndata: %d\n\n" % i for i in range(5000))
    assert [e.data for e in SSEDecoder().feed(events)][-1] == '{"i": 4999}'
    assert [e.data for e in SSEDecoder().feed(mixed)][-1] == "4999"


@pytest.mark.parametrize(
    "path",
    [
        "/../admin",
        "/%2e%2e/admin",
        "/%2E%2E/admin",
        "/.%2e/admin",
        "/models/%252e%252e/x",
        "/chat/../../admin",
        "/./chat",
        "/..%2fadmin",
        "/..\\admin",
        "admin/x",  # would make /v1admin/x
    ],
)
def test_dispatch_refuses_paths_that_leave_the_base_path(path: str) -> None:
    with pytest.raises(UpstreamFailure):
        checked_url(endpoint(), path)


def test_dispatch_still_accepts_encoded_ids_and_the_base_itself() -> None:
    ep = endpoint()
    assert checked_url(ep, "/models/a%2Fb:predict")[1] == "/v1/models/a%2Fb:predict"
    provider = dataclasses.replace(ep.provider, base_url="https://p.invalid")
    bare = dataclasses.replace(ep, provider=provider)
    assert checked_url(bare, "/v1/x")[1] == "/v1/x"
