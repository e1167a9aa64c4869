"""Gemini ``streamGenerateContent?alt=sse`` -> canonical chunks.

Each event is a whole ``GenerateContentResponse`` carrying the next parts of each
candidate. Text and thought parts become ``content`` / ``reasoning`` deltas; a
function call arrives whole and becomes one tool-call delta (index, id, name and all
its arguments). ``usageMetadata`` is cumulative: the last one is sent at the end. The
stream has no terminator, so it ended well only if a finish reason (or a blocked
prompt) was seen; otherwise :class:`StreamProtocolError`.
"""

from __future__ import annotations

import orjson

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.canonical import ChunkMaker
from zdrgate.protocols.common import JSON
from zdrgate.protocols.gemini.media import inline_images
from zdrgate.protocols.gemini.response import (
    blocked,
    call_id,
    canonical_usage,
    finish_reason,
    loads,
    parts_of,
)
from zdrgate.protocols.sse import EventStreamDecoder


class GeminiStreamDecoder(EventStreamDecoder):
    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self._chunks = ChunkMaker(endpoint, "gemini")
        self._usage: JSON | None = None
        self._calls: dict[int, int] = {}  # candidate index -> tool calls so far
        self._started: set[int] = set()

    def _final(self) -> list[JSON]:
        return [] if self._usage is None else [self._chunks.usage(self._usage)]

    def _event(self, data: str) -> list[JSON]:
        if not data.strip():
            return []
        response = loads(data)
        if isinstance(response.get("responseId"), str):
            self._chunks.ident = response["responseId"]
        self._usage = canonical_usage(response.get("usageMetadata")) or self._usage
        candidates = response.get("candidates")
        if isinstance(candidates, list) and candidates:
            return [
                c
                for position, candidate in enumerate(candidates)
                if isinstance(candidate, dict)
                for c in self._candidate(position, candidate)
            ]
        if blocked(response):
            self._finished = True
            return [*self._start(0), self._chunks.delta({}, "content_filter")]
        return []

    def _start(self, index: int) -> list[JSON]:
        if index in self._started:
            return []
        self._started.add(index)
        return [self._chunks.delta({"role": "assistant", "content": ""}, index=index)]

    def _candidate(self, position: int, candidate: JSON) -> list[JSON]:
        index = candidate.get("index")
        index = index if isinstance(index, int) else position
        chunks = self._start(index)
        for part in parts_of(candidate):
            delta = self._delta(index, part)
            if delta:
                chunks.append(self._chunks.delta(delta, index=index))
        if candidate.get("finishReason"):
            self._finished = True
            has_calls = self._calls.get(index, 0) > 0
            finish = finish_reason(candidate["finishReason"], has_calls)
            chunks.append(self._chunks.delta({}, finish, index=index))
        return chunks

    def _delta(self, index: int, part: JSON) -> JSON | None:
        call = part.get("functionCall")
        if isinstance(call, dict):
            number = self._calls.get(index, 0)
            self._calls[index] = number + 1
            entry = {
                "index": number,
                "id": call_id(self._chunks.ident, index, number, call),
                "type": "function",
                "function": {
                    "name": str(call.get("name") or ""),
                    "arguments": orjson.dumps(call.get("args") or {}).decode(),
                },
            }
            return {"tool_calls": [entry]}
        if images := inline_images([part]):
            return {"images": images}
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return None
        return {"reasoning": text} if part.get("thought") else {"content": text}
