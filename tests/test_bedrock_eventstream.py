"""The AWS event-stream decoder and the ConverseStream decoder over it: frames split
anywhere decode the same, and anything malformed (a bad CRC, an oversized frame, a
truncated stream, garbage) is a StreamProtocolError, never an exception of another
kind and never a silent end. Frames come from the fake's own encoder."""

from __future__ import annotations

import contextlib
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_bedrock import event, events, exception, frame
from zdrgate.catalog.model import (
    Confidence,
    Endpoint,
    PolicyRecord,
    Protocol,
    Provider,
    ZdrAvailability,
)
from zdrgate.protocols import ErrorKind, StreamProtocolError
from zdrgate.protocols.bedrock.eventstream import EventStreamDecoder, Message
from zdrgate.protocols.bedrock.stream import BedrockStreamDecoder

RECORD = PolicyRecord(0, False, ZdrAvailability.DEFAULT, ("e",), None, Confidence.HIGH)
PROVIDER = Provider("b", "B", Protocol.BEDROCK, "https://x", "", RECORD)
ENDPOINT = Endpoint("t/m", PROVIDER, "m", RECORD)
STREAM = b"".join(events("tools", "hi", {})) + b"".join(events("think", "hi", {}))


def decode_all(data: bytes, cuts: list[int]) -> list[Message]:
    decoder = EventStreamDecoder()
    out: list[Message] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        out += decoder.feed(data[start:cut])
        start = max(start, cut)
    decoder.finish()
    return out


def test_frames_carry_headers_and_payload() -> None:
    [message] = decode_all(frame({":event-type": "x", ":message-type": "event"}, b"{}"), [])
    assert message.headers == {":event-type": "x", ":message-type": "event"}
    assert message.payload == b"{}"


def test_every_header_value_type_is_read() -> None:
    block = (
        b"\x01a\x00"
        + b"\x01b\x01"
        + b"\x01c\x02\x05"
        + b"\x01d\x03\xff\xfe"
        + b"\x01e\x04\x00\x00\x01\x00"
        + b"\x01f\x05"
        + (7).to_bytes(8, "big")
        + b"\x01g\x06\x00\x02\x00\x01"
        + b"\x01h\x08"
        + (9).to_bytes(8, "big")
        + b"\x01i\x09"
        + bytes(range(16))
    )
    prelude = struct.pack(">II", 16 + len(block), len(block))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + block
    data = message + struct.pack(">I", zlib.crc32(message))
    [decoded] = decode_all(data, [])
    assert decoded.headers == {
        "a": True,
        "b": False,
        "c": 5,
        "d": -2,
        "e": 256,
        "f": 7,
        "g": b"\x00\x01",
        "h": 9,
        "i": bytes(range(16)),
    }


def test_one_byte_at_a_time_is_the_same_as_all_at_once() -> None:
    assert decode_all(STREAM, list(range(len(STREAM)))) == decode_all(STREAM, [])


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (event("metadata", {}, bad_crc=True), "message CRC"),
        (b"\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00", "prelude CRC"),
        (frame({}, b"x")[:-3], "truncated"),
        (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", "prelude CRC"),
    ],
)
def test_malformed_streams_are_protocol_errors(data: bytes, what: str) -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(StreamProtocolError, match=what) as info:
        decoder.feed(data)
        decoder.finish()
    assert info.value.kind is ErrorKind.PROTOCOL_ERROR


def test_a_frame_over_the_limit_fails_before_it_is_buffered() -> None:
    decoder = EventStreamDecoder(max_message_bytes=1024)
    big = frame({":message-type": "event"}, b"x" * 2000)
    with pytest.raises(StreamProtocolError, match="out of bounds"):
        decoder.feed(big[:12])  # the prelude alone says it is too long


def test_headers_longer_than_the_frame_are_refused() -> None:
    prelude = struct.pack(">II", 16, 100)
    data = prelude + struct.pack(">I", zlib.crc32(prelude)) + b"\x00\x00\x00\x00"
    with pytest.raises(StreamProtocolError, match="headers longer"):
        EventStreamDecoder().feed(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_arbitrary_bytes_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(StreamProtocolError):
        decode_all(data, cuts)


def sealed(block: bytes, payload: bytes) -> bytes:
    """Any header block and payload, framed with correct lengths and CRCs."""
    prelude = struct.pack(">II", 16 + len(block) + len(payload), len(block))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + block + payload
    return message + struct.pack(">I", zlib.crc32(message))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=40), st.lists(st.integers(0, 200)))
def test_arbitrary_headers_in_sound_frames_raise_only_protocol_errors(
    block: bytes, payload: bytes, cuts: list[int]
) -> None:
    """CRCs right, so the header parser meets the arbitrary bytes (and the
    ConverseStream decoder whatever headers they make)."""
    data = sealed(block, payload) * 2
    with contextlib.suppress(StreamProtocolError):
        assert decode_all(data, cuts) == decode_all(data, [])
    with contextlib.suppress(StreamProtocolError):
        converse(data, cuts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_any_chunking_of_a_valid_stream_decodes_the_same(cuts: list[int]) -> None:
    assert decode_all(STREAM, cuts) == decode_all(STREAM, [])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(STREAM) - 1), st.integers(1, 255), st.lists(st.integers(0, 400)))
def test_a_flipped_byte_is_a_protocol_error(at: int, flip: int, cuts: list[int]) -> None:
    damaged = bytearray(STREAM)
    damaged[at] ^= flip
    with pytest.raises(StreamProtocolError):
        decode_all(bytes(damaged), cuts)


def converse(data: bytes, cuts: list[int]) -> list[dict[str, object]]:
    decoder = BedrockStreamDecoder(ENDPOINT)
    chunks, start = [], 0
    for cut in [*sorted(cuts), len(data)]:
        chunks += decoder.feed(data[start:cut])
        start = max(start, cut)
    chunks += decoder.finish()
    return [{"choices": c["choices"], "usage": c.get("usage")} for c in chunks]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, len(STREAM)), max_size=8))
def test_converse_chunks_do_not_depend_on_the_chunking(cuts: list[int]) -> None:
    assert converse(STREAM, cuts) == converse(STREAM, [])


def test_a_stream_ending_before_message_stop_is_an_error() -> None:
    data = b"".join(events("ok", "hi", {})[:-2])
    with pytest.raises(StreamProtocolError, match="before messageStop"):
        converse(data, [])


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("throttlingException", ErrorKind.RATE_LIMITED),
        ("modelStreamErrorException", ErrorKind.SERVER_ERROR),
        ("validationException", ErrorKind.BAD_REQUEST),
        ("serviceUnavailableException", ErrorKind.OVERLOADED),
        ("internalServerException", ErrorKind.SERVER_ERROR),
        ("somethingNewException", ErrorKind.SERVER_ERROR),
    ],
)
def test_exception_events_end_the_stream_with_their_kind(name: str, kind: ErrorKind) -> None:
    data = event("messageStart", {"role": "assistant"}) + exception(name, "your prompt")
    with pytest.raises(StreamProtocolError) as info:
        converse(data, [])
    assert info.value.kind is kind
    assert "prompt" not in str(info.value)
