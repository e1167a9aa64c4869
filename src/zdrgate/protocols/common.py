"""Pieces every protocol package shares, written once: the JSON alias, reading an
upstream JSON object, and merging consecutive turns of one role.

Usage::

    parsed = load_object(body, "image response")   # or StreamProtocolError
    append_turn(turns, "user", "content", blocks)   # merges into the last user turn
"""

from __future__ import annotations

from typing import Any

import orjson

from zdrgate.protocols.errors import ErrorKind, StreamProtocolError

JSON = dict[str, Any]


def load_object(body: bytes | str, what: str) -> JSON:
    """The JSON object of an upstream body, or a protocol error naming ``what``
    (never quoting the body)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, f"{what} is not JSON") from None
    if not isinstance(parsed, dict):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, f"{what} is not an object")
    return parsed


def int_field(data: Any, name: str) -> int:
    """``data[name]`` when ``data`` is an object and that is an integer, else 0."""
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, int) else 0


def index_field(event: JSON, name: str) -> int:
    """``event[name]``: where a streamed block or item sits. A stream event without it
    cannot be placed, so it is a protocol error."""
    value = event.get(name)
    if not isinstance(value, int):
        raise StreamProtocolError(ErrorKind.PROTOCOL_ERROR, f"stream event without {name}")
    return value


def append_turn(turns: list[JSON], role: str, key: str, items: list[JSON]) -> None:
    """Append a turn, or extend the previous one when it has the same role (the
    protocols that want alternating roles: Anthropic ``content``, Gemini ``parts``)."""
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(items)
    else:
        turns.append({"role": role, key: items})


def first_choice_deltas(chunk: JSON) -> list[tuple[JSON, object]]:
    """The ``(delta, finish_reason)`` of choice 0 in a canonical stream chunk, as the
    inbound renderers (which answer one choice) read them; malformed parts read empty."""
    choices = chunk.get("choices")
    out: list[tuple[JSON, object]] = []
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            delta = choice.get("delta")
            out.append((delta if isinstance(delta, dict) else {}, choice.get("finish_reason")))
    return out


class ChunkEvents:
    """What both inbound stream renderers (``/v1/messages``, ``/v1/responses``) do with a
    canonical chunk: open the stream on the first one, keep the latest usage and finish
    reason, and spell each delta of choice 0 (``_start`` and ``_delta``: each
    protocol's own)."""

    def __init__(self) -> None:
        self.started = False
        self.ended = False
        self._finish: object = None
        self._usage: object = None

    def chunk(self, chunk: JSON) -> list[bytes]:
        if self.ended:
            return []
        out = self._start(chunk)
        self._usage = chunk.get("usage") or self._usage
        for delta, finish_reason in first_choice_deltas(chunk):
            out += self._delta(delta)
            self._finish = finish_reason or self._finish
        return out

    def _start(self, first: JSON | None) -> list[bytes]:
        """The stream's opening events, once (``first``: the first chunk, if any)."""
        raise NotImplementedError

    def _delta(self, delta: JSON) -> list[bytes]:
        raise NotImplementedError
