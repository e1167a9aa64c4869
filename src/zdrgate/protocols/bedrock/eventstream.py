"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``),
decoded incrementally.

One message::

    total length (u32) | headers length (u32) | prelude CRC32 (u32)
    headers: name length (u8), name, value type (u8), value ...
    payload
    message CRC32 (u32, of everything before it)

All integers big-endian; CRC32 is zlib's. Bytes may arrive split anywhere. Work is
linear in the bytes fed: whole messages are cut by offset and the rest is copied
once per feed. A prelude is checked as soon as its 12 bytes are in, so a stream of
garbage fails at once; a message longer than ``max_message_bytes``, a bad CRC, a
malformed header or bytes left over at the end raise :class:`StreamProtocolError`
(never a silent cut).

Usage::

    decoder = EventStreamDecoder()
    for message in decoder.feed(data):
        message.headers[":event-type"], message.payload
    decoder.finish()
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from zdrgate.protocols.errors import ErrorKind, StreamProtocolError

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # AWS's own limit on one event's payload
_PRELUDE = 12
_MINIMUM = _PRELUDE + 4  # no headers, no payload
_U32 = struct.Struct(">I")
_PRELUDE_FIELDS = struct.Struct(">III")
# Fixed-size header value types: 0/1 true/false, 2 byte, 3 short, 4 int, 5 long,
# 8 timestamp (ms), 9 uuid. 6 (bytes) and 7 (string) carry a u16 length.
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}

HeaderValue = bool | int | bytes | str


@dataclass(frozen=True, slots=True)
class Message:
    headers: dict[str, HeaderValue]
    payload: bytes


def _fail(what: str) -> StreamProtocolError:
    return StreamProtocolError(ErrorKind.PROTOCOL_ERROR, f"event stream: {what}")


class EventStreamDecoder:
    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._parts: list[bytes] = []  # bytes of the message not yet whole
        self._pending = 0  # bytes in the parts
        self._need = _PRELUDE  # bytes the next message needs before it can be read
        self._max = max_message_bytes
        self._checked = False  # the prelude of the message in the parts is good

    def feed(self, data: bytes) -> list[Message]:
        self._parts.append(data)
        self._pending += len(data)
        if self._pending < self._need:
            return []  # joined once, when the message is whole: linear however split
        buffer = b"".join(self._parts)
        messages: list[Message] = []
        start = 0
        while True:
            left = len(buffer) - start
            if left < _PRELUDE:
                self._need = _PRELUDE
                break
            total = self._prelude(buffer, start)
            if left < total:
                self._need = total
                break
            messages.append(_message(buffer, start, total))
            self._checked = False
            start += total
        rest = buffer[start:] if start else buffer
        self._parts = [rest] if rest else []
        self._pending = len(rest)
        return messages

    def finish(self) -> None:
        """The stream ended: it must end between two messages."""
        if self._pending:
            raise _fail("truncated message at the end of the stream")

    def _prelude(self, buffer: bytes, start: int) -> int:
        total, headers, crc = _PRELUDE_FIELDS.unpack_from(buffer, start)
        if self._checked:
            return int(total)
        if zlib.crc32(buffer[start : start + 8]) != crc:
            raise _fail("prelude CRC mismatch")
        if total < _MINIMUM or total > self._max:
            raise _fail("message length out of bounds")
        if headers > total - _MINIMUM:
            raise _fail("headers longer than the message")
        self._checked = True
        return int(total)


def _message(buffer: bytes, start: int, total: int) -> Message:
    end = start + total
    (crc,) = _U32.unpack_from(buffer, end - 4)
    if zlib.crc32(buffer[start : end - 4]) != crc:
        raise _fail("message CRC mismatch")
    headers_end = start + _PRELUDE + _U32.unpack_from(buffer, start + 4)[0]
    return Message(_headers(buffer, start + _PRELUDE, headers_end), buffer[headers_end : end - 4])


def _headers(buffer: bytes, at: int, end: int) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    while at < end:
        size = buffer[at]
        name_end = at + 1 + size
        if size == 0 or name_end >= end:
            raise _fail("malformed header name")
        name = _text(buffer[at + 1 : name_end])
        value, at = _value(buffer, buffer[name_end], name_end + 1, end)
        headers[name] = value
    return headers


def _value(buffer: bytes, kind: int, at: int, end: int) -> tuple[HeaderValue, int]:
    if kind in (6, 7):
        if at + 2 > end:
            raise _fail("malformed header value")
        length = int.from_bytes(buffer[at : at + 2], "big")
        raw, at = buffer[at + 2 : at + 2 + length], at + 2 + length
        if at > end:
            raise _fail("malformed header value")
        return (raw if kind == 6 else _text(raw)), at
    size = _FIXED.get(kind)
    if size is None or at + size > end:
        raise _fail("malformed header value")
    if kind in (0, 1):
        return kind == 0, at
    raw = buffer[at : at + size]
    value = raw if kind == 9 else int.from_bytes(raw, "big", signed=True)
    return value, at + size


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail("header is not UTF-8") from None
