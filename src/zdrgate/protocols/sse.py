"""Incremental Server-Sent Events decoding (the parts of the spec LLM APIs use).

Bytes may split anywhere, including inside a UTF-8 sequence: lines are cut on bytes
and only decoded once whole.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    data: str


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events = self._single_line_events()
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                return events
            line = self._buffer[:cut].rstrip(b"\r").decode("utf-8", errors="replace")
            self._buffer = self._buffer[cut + 1 :]
            event = self._line(line)
            if event is not None:
                events.append(event)

    def _single_line_events(self) -> list[Event]:
        """Fast path for what nearly every LLM event is, ``data: {...}`` then a blank
        line, while no event is half-read: cut whole events without going line by line."""
        events: list[Event] = []
        buffer = self._buffer
        while not self._data and not self._event:
            end = buffer.find(b"\n\n")
            if end < 0 or not buffer.startswith(b"data: "):
                break
            block = buffer[6:end]
            if b"\n" in block or b"\r" in block:
                break
            events.append(Event("message", block.decode("utf-8", errors="replace")))
            buffer = buffer[end + 2 :]
        self._buffer = buffer
        return events

    def flush(self) -> list[Event]:
        """End of stream: a final event without its blank line still counts."""
        events = self.feed(b"\n") if self._buffer else []
        event = self._line("")
        return [*events, event] if event is not None else events

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data and not self._event:
                return None
            event = Event(self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None
