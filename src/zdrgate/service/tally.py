"""The tally of a stream: what its usage row needs (token counts, outcome), never
content."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zdrgate.catalog.model import Endpoint
from zdrgate.protocols.common import JSON
from zdrgate.wire.chat import ChatRequest

if TYPE_CHECKING:
    from zdrgate.service.metering import Metering


CHARS_PER_TOKEN = 4  # the usual rule of thumb, for streams the upstream never counted


class Tally:
    """What a stream's usage row needs: token counts and outcome, never content.

    The upstream reports usage at the end of a stream. A client that leaves before then
    still received what was streamed: the row then counts it as estimated tokens (the
    characters streamed, and the request's, at :data:`CHARS_PER_TOKEN`), never 0.
    Only lengths are kept, not text.
    """

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.usage: JSON | None = None
        self.streamed = 0  # characters of content, reasoning and tool arguments sent
        self.outcome: str | None = None  # None: not decided yet, try the next endpoint
        self.status = 200
        self.first_chunk_at: float | None = None  # perf_counter() at the first chunk
        self.recorded = False

    def see(self, chunks: list[JSON]) -> None:
        for chunk in chunks:
            usage = chunk.get("usage")
            if usage.__class__ is dict:
                self.usage = usage
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta")
                if delta:
                    self.streamed += _delta_chars(delta)

    def metered(self, meter: Metering, served: Endpoint | None) -> None:
        """Record the stream's one usage row; later calls do nothing."""
        if self.recorded:
            return
        self.recorded = True
        outcome = None if self.outcome == "done" else self.outcome or "cancelled"
        usage = self.usage
        if usage is None and served is not None and self.streamed:
            usage = {
                "prompt_tokens": -(-self.request.text_chars() // CHARS_PER_TOKEN),
                "completion_tokens": -(-self.streamed // CHARS_PER_TOKEN),
            }
        meter.ended(served, usage, outcome, self.status, self.first_chunk_at)


def _delta_chars(delta: JSON) -> int:
    count = 0
    for key in ("content", "reasoning"):
        text = delta.get(key)
        if text.__class__ is str:
            count += len(text)
    for call in delta.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function, custom = call.get("function"), call.get("custom")
        text = (
            function.get("arguments") if isinstance(function, dict)
            else custom.get("input") if isinstance(custom, dict) else None
        )  # fmt: skip
        if isinstance(text, str):
            count += len(text)
    return count
