"""Incremental Server-Sent Events decoding (the parts of the spec LLM APIs use).

Bytes may split anywhere, including inside a UTF-8 sequence: lines are cut on bytes
and only decoded once whole. Work is linear in the bytes fed, however long a line is
or however many events one chunk carries: a chunk without a line break is only kept
(joined once its line ends), and one feed cuts its lines by index, copying the rest
once. An event or a line longer than ``max_event_bytes`` raises
:class:`~zdrgate.protocols.base.StreamProtocolError`, so an upstream that never ends
a line cannot grow the buffer without bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from zdrgate.protocols.common import JSON
from zdrgate.protocols.errors import ErrorKind, StreamProtocolError

MAX_EVENT_BYTES = 32 * 1024 * 1024  # an image in a chat stream can be a few MiB of base64


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str


class SSEDecoder:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = b""  # the start of a line: never holds a line break between feeds
        self._parts: list[bytes] = []  # chunks of that line that had no line break
        self._pending = 0  # bytes in the buffer and parts
        self._event = ""
        self._data: list[str] = []
        self._size = 0  # bytes of data lines in the event being read
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[Event]:
        if b"\n" not in chunk:
            if chunk:
                self._parts.append(chunk)
                self._pending += len(chunk)
                self._check(self._pending)
            return []
        if self._parts:
            buffer = b"".join((self._buffer, *self._parts, chunk))
            self._parts = []
        else:
            buffer = self._buffer + chunk
        events, start = self._single_line_events(buffer)
        while True:
            cut = buffer.find(b"\n", start)
            if cut < 0:
                break
            line = buffer[start:cut].rstrip(b"\r").decode("utf-8", errors="replace")
            start = cut + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:] if start else buffer
        self._pending = len(self._buffer)
        self._check(self._pending)
        return events

    def _single_line_events(self, buffer: bytes) -> tuple[list[Event], int]:
        """Fast path for what nearly every LLM event is, ``data: {...}`` then a blank
        line, while no event is half-read: cut whole events without going line by line.
        Returns the events and where the rest of ``buffer`` starts."""
        events: list[Event] = []
        start = 0
        while not self._data and not self._event:
            end = buffer.find(b"\n\n", start)
            if end < 0 or not buffer.startswith(b"data: ", start):
                break
            block = buffer[start + 6 : end]
            if b"\n" in block or b"\r" in block:
                break
            self._check(len(block))
            events.append(Event("message", block.decode("utf-8", errors="replace")))
            start = end + 2
        return events, start

    def flush(self) -> list[Event]:
        """End of stream: a final event without its blank line still counts."""
        events = self.feed(b"\n") if self._buffer or self._parts else []
        event = self._line("")
        return [*events, event] if event is not None else events

    def _check(self, size: int) -> None:
        if size > self._max:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "SSE event over the size limit")

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = Event(self._event or "message", "\n".join(self._data))
            self._event, self._data, self._size = "", [], 0
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._size += len(value)
            self._check(self._size)
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def event(name: str, data: JSON) -> bytes:
    """One named SSE event with JSON data, as the inbound APIs send them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventStreamDecoder:
    """The shape of a stream decoder over SSE (Anthropic, Gemini, the Responses API):
    each event's data goes to ``_event``; at the end, a stream whose last event never
    came (``_finished`` still false) is a protocol error, never a silent truncation, and
    ``_final`` adds what is only known then (usage)."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._finished = False

    def feed(self, data: bytes) -> list[JSON]:
        return [c for event in self._sse.feed(data) for c in self._event(event.data)]

    def finish(self) -> list[JSON]:
        chunks = [c for event in self._sse.flush() for c in self._event(event.data)]
        if not self._finished:
            raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, "stream ended before it finished")
        return chunks + self._final()

    def _event(self, data: str) -> list[JSON]:
        raise NotImplementedError

    def _final(self) -> list[JSON]:
        return []
