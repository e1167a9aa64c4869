"""The upstream transport seam: a test passes its own transport; the egress proxy
transport tunnels https by CONNECT (TLS end to end, the proxy sees no content) and
never carries plain http."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable
from types import MappingProxyType
from typing import Any

import pytest
import trustme
from starlette.testclient import TestClient

from conftest import MASTER, chat_model, provider
from zdrgate.catalog.model import Catalog
from zdrgate.config import parse_settings
from zdrgate.protocols import ErrorKind
from zdrgate.server.app import app_for, build_state
from zdrgate.upstream import UpstreamFailure, UpstreamResponse
from zdrgate.upstream.http1 import Origin
from zdrgate.upstream.proxy import ProxyTransport, connect_request

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
SECRET, CANARY = "sk-upstream-secret", "canary-7f3a"
ANSWER = (
    b'{"id":"c1","object":"chat.completion","created":1,"model":"ok","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
)


class Recorded:
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self, limit: int | None = None) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self._body


class FakeTransport:
    """Answers every call itself, recording what the dispatcher handed it."""

    def __init__(self, fail: ErrorKind | None = None) -> None:
        self.fail = fail
        self.calls: list[tuple[Origin, str, str, dict[str, str], bytes]] = []
        self.released = 0

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def request(
        self, origin: Origin, method: str, target: str,
        headers: Iterable[tuple[str, str]], body: bytes,
    ) -> UpstreamResponse:
        self.calls.append((origin, method, target, dict(headers), body))
        if self.fail is not None:
            raise UpstreamFailure(self.fail, origin.host)
        return UpstreamResponse(200, MappingProxyType({}), Recorded(ANSWER), self._release)

    def _release(self) -> None:
        self.released += 1


def run_chat(tmp_path: Any, transport: FakeTransport) -> Any:
    raw = {
        "storage": {"database_url": f"sqlite:///{tmp_path}/z.db", "data_dir": str(tmp_path)},
        "providers": {"fake": provider("https://upstream.example/v1", [chat_model("ok")])},
    }
    state = build_state(
        parse_settings(raw), catalog=Catalog({}, {}), environ={"ZDRGATE_MASTER_KEY": MASTER},
        transport=transport,
    )
    body = {"model": "test/chat", "messages": [{"role": "user", "content": "hello"}]}
    with TestClient(app_for(state)) as client:
        return client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {MASTER}"}
        )


def test_a_test_can_pass_the_transport_the_dispatcher_sends_through(tmp_path: Any) -> None:
    transport = FakeTransport()
    reply = run_chat(tmp_path, transport)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "hi"
    [(origin, method, target, headers, _)] = transport.calls
    assert (origin, method, target) == (
        Origin("https", "upstream.example", 443), "POST", "/v1/chat/completions"
    )
    assert headers["authorization"] == "Bearer upstream-key"
    assert transport.released == 1


def test_a_transport_failure_is_a_failed_attempt_not_a_crash(tmp_path: Any) -> None:
    reply = run_chat(tmp_path, FakeTransport(fail=ErrorKind.CONNECT_ERROR))
    assert reply.status_code == 502
    assert reply.json()["error"]["code"] == "upstream_failed"


class ConnectProxy:
    """A CONNECT proxy on 127.0.0.1 that records every byte it relays."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 Connection established\r\n\r\n") -> None:
        self.answer = answer
        self.heads: list[bytes] = []
        self.relayed = bytearray()
        self.server: asyncio.Server | None = None
        self.handlers: list[asyncio.Task[Any]] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        writer.write(self.answer)
        if not self.answer.startswith(b"HTTP/1.1 200"):
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            return
        host, port = head.split(b" ")[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(
            self._pipe(reader, up_writer, record=True), self._pipe(up_reader, writer)
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.relayed += data
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def tls_upstream(ca: trustme.CA) -> tuple[asyncio.Server, Origin, list[bytes]]:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(OK)
        await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)
    return server, Origin("https", "127.0.0.1", server.sockets[0].getsockname()[1]), seen


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


async def test_https_goes_through_a_connect_tunnel_with_tls_end_to_end() -> None:
    ca = trustme.CA()
    server, origin, seen = await tls_upstream(ca)
    proxy = ConnectProxy()
    transport = ProxyTransport(await proxy.start(), ssl_context=trusting(ca))
    await transport.start()
    headers = [("authorization", f"Bearer {SECRET}")]
    response = await transport.request(origin, "POST", "/v1/x", headers, CANARY.encode())
    try:
        assert response.status == 200 and await response.read() == b"{}"
    finally:
        response.release()
        await transport.close()
        await proxy.close()
        server.close()
        await server.wait_closed()
    assert proxy.heads == [connect_request(origin, None)]
    assert seen and seen[0].startswith(b"POST /v1/x HTTP/1.1")  # the upstream got it
    assert proxy.relayed  # ... through the proxy, which saw only TLS records:
    assert SECRET.encode() not in proxy.relayed and b"/v1/x" not in proxy.relayed


async def test_a_tunnel_the_proxy_refuses_is_a_connect_error() -> None:
    proxy = ConnectProxy(answer=b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    transport = ProxyTransport(await proxy.start())
    await transport.start()
    with pytest.raises(UpstreamFailure) as failure:
        await transport.request(Origin("https", "127.0.0.1", 9), "POST", "/", [], b"")
    await transport.close()
    await proxy.close()
    assert failure.value.kind is ErrorKind.CONNECT_ERROR


async def test_plain_http_never_goes_through_the_proxy() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(OK)
        await writer.drain()
        writer.close()

    upstream = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin("http", "127.0.0.1", upstream.sockets[0].getsockname()[1])
    proxy = ConnectProxy()
    transport = ProxyTransport(await proxy.start())
    await transport.start()
    response = await transport.request(origin, "GET", "/", [], b"")
    assert await response.read() == b"{}"
    response.release()
    await transport.close()
    await proxy.close()
    upstream.close()
    await upstream.wait_closed()
    assert proxy.heads == []


def test_proxy_credentials_go_in_proxy_authorization() -> None:
    transport = ProxyTransport("http://user:p%40ss@proxy.internal:3128")
    assert transport.proxy == Origin("http", "proxy.internal", 3128)
    request = connect_request(Origin("https", "api.example", 443), transport.proxy_auth)
    assert request.startswith(b"CONNECT api.example:443 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz\r\n" in request


@pytest.mark.parametrize("url", ["https://proxy:3128", "socks5://proxy:1080", "http://p/x"])
def test_the_setting_takes_an_http_proxy_url_only(url: str) -> None:
    with pytest.raises(Exception, match="http://host:port"):
        parse_settings({"upstream": {"egress_proxy": url}})
