"""Slow, greedy and malformed clients against a served gateway, with raw sockets (#11.11).

Each test waits for the server to act (a socket timeout far above the configured
limit bounds the wait) and asserts what happened on the wire, never how long it took.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import GatewayFactory, RunningGateway, UvicornThread
from zdrgate.config import ServerSettings
from zdrgate.server.run import server_options

FAST = {"request_timeout_seconds": 0.5, "write_timeout_seconds": 0.5}


@pytest.fixture
def gw(make_gateway: GatewayFactory) -> RunningGateway:
    return make_gateway({}, extra={"server": {**FAST, "max_header_bytes": 8192}})


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or 10 s pass: then the test fails)."""
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not part:
            return data
        data += part


def exchange(gw: RunningGateway, raw: bytes) -> tuple[int, dict[str, Any], bytes]:
    """Status, JSON body and the whole reply (head included) of one raw request."""
    with connect(gw.url) as sock:
        sock.sendall(raw)
        reply = read_all(sock)
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body) if body.startswith(b"{") else {}, reply


def still_serving(gw: RunningGateway) -> None:
    assert httpx.get(gw.v1 + "/models", headers=gw.auth(), timeout=10).status_code == 200


# ---------------------------------------------------------------- slow clients


def test_slow_heads_bodies_and_silent_connections_are_closed_while_others_are_served(
    gw: RunningGateway,
) -> None:
    host = gw.url.removeprefix("http://")
    silent = [connect(gw.url) for _ in range(5)]
    trickling = [connect(gw.url) for _ in range(5)]
    for sock in trickling:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode() + b"\r\n")
    slow_body = connect(gw.url)
    slow_body.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: " + host.encode()
        + b"\r\nAuthorization: Bearer " + gw.key.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"mo"
    )
    still_serving(gw)  # while all of them hang on
    for sock in [*silent, *trickling, slow_body]:
        reply = read_all(sock)
        sock.close()
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:40]
        assert b'"code":"request_timeout"' in reply
    still_serving(gw)


def test_an_idle_keep_alive_connection_is_closed(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({}, extra={"server": {"keep_alive_seconds": 0.3}})
    with connect(gw.url) as sock:
        host = gw.url.removeprefix("http://").encode()
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: " + host + b"\r\nAuthorization: Bearer "
                     + gw.key.encode() + b"\r\n\r\n")
        reply = read_all(sock)  # the answer, then the close
    assert reply.startswith(b"HTTP/1.1 200 ")


def test_connections_past_the_limit_are_refused(make_gateway: GatewayFactory) -> None:
    gw = make_gateway({}, extra={"server": {"max_connections": 3}})
    held = [connect(gw.url) for _ in range(3)]
    try:
        status, _, _ = exchange(gw, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503
    finally:
        for sock in held:
            sock.close()


# ---------------------------------------------------------------- a client that does not read


class Endless:
    """An ASGI app that streams 64 KiB chunks until the client goes away (bounded)."""

    def __init__(self) -> None:
        self.sent = 0
        self.ended = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunk = b"data: " + b"x" * 65536 + b"\n\n"
        for _ in range(20_000):  # 1.3 GB at most; a client that reads nothing stops it
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.sent += 1
            if self.sent and (await _disconnected(receive)):
                break
        self.ended.set()


async def _disconnected(receive: Any) -> bool:
    try:
        message = await asyncio.wait_for(receive(), 0.001)
    except TimeoutError:
        return False
    return bool(message["type"] == "http.disconnect")


@pytest.fixture
def endless() -> Iterator[tuple[Endless, int]]:
    app = Endless()
    thread = UvicornThread(app, server_options(ServerSettings(**FAST)))
    port = thread.start()
    yield app, port
    thread.stop()


def test_a_client_that_stops_reading_is_disconnected(endless: tuple[Endless, int]) -> None:
    app, port = endless
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
    # Read nothing: the server's buffers fill, it pauses, and the write deadline fires.
    for _ in range(200):  # 10 s at most
        if app.ended.is_set():
            break
        time.sleep(0.05)
    sock.close()
    assert app.ended.is_set()
    assert app.sent < 20_000


# ---------------------------------------------------------------- malformed HTTP


def host_of(gw: RunningGateway) -> bytes:
    return gw.url.removeprefix("http://").encode()


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"GET /v1/models HTTP/1.1\r\n\r\n", "invalid_host"),
        (b"GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "invalid_host"),
        (b"GET /v1/models HTTP/1.1\r\nHost: evil.example/x\r\n\r\n", "invalid_host"),
        (b"GET /v1/models HTTP/1.1\r\nHost: a b\r\n\r\n", "invalid_host"),
        (b"GET /v1/models HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", "invalid_host"),
        (b"GET /v1/models HTTP/1.1\r\nHost: \r\n\r\n", "invalid_host"),
    ],
)
def test_bad_or_missing_host_is_a_400(gw: RunningGateway, head: bytes, code: str) -> None:
    status, body, reply = exchange(gw, head)
    assert status == 400
    assert body["error"]["code"] == code
    assert b"connection: close" in reply.lower()
    still_serving(gw)


def test_oversized_headers_are_a_431(gw: RunningGateway) -> None:
    big = b"X-Pad: " + b"p" * 9000 + b"\r\n"
    status, body, _ = exchange(gw, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert status == 431
    assert body["error"]["code"] == "headers_too_large"
    many = b"".join(b"X-N%d: v\r\n" % i for i in range(2000))
    status, _, _ = exchange(gw, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431
    still_serving(gw)


SMUGGLING = {
    "cl_and_te": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    "two_lengths": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Content-Length: 40\r\n\r\n{}",
    "obs_fold": b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    "te_not_chunked_last": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "bare_lf_in_chunk": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_request_smuggling_forms_are_refused(gw: RunningGateway, name: str) -> None:
    status, body, reply = exchange(gw, SMUGGLING[name])
    assert status == 400, name
    assert body["error"]["code"] == "invalid_http"
    assert reply.count(b"HTTP/1.1 ") == 1  # one answer: nothing smuggled behind it
    still_serving(gw)
