"""The coalescing transport under uvicorn's protocol: one write per loop iteration."""

from __future__ import annotations

import asyncio

from zdrgate.server.protocol import CoalescingTransport


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_a_head_leaves_with_the_body_that_follows_it() -> None:
    raw = Recorder()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    assert raw.writes == []
    assert transport.get_write_buffer_size() == 19
    transport.write(b"{}")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"next")  # nothing held: straight through
    assert raw.writes[-1] == b"next"
    await asyncio.sleep(0)
    assert len(raw.writes) == 2


async def test_a_head_alone_leaves_at_the_end_of_the_iteration() -> None:
    raw = Recorder()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]


async def test_close_flushes_first_and_other_calls_pass_through() -> None:
    raw = Recorder()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    transport.close()
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"] and raw.closed
    assert transport.get_extra_info("peername") == "info:peername"
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    await asyncio.sleep(0)
    assert len(raw.writes) == 1  # a closed transport is not written to
