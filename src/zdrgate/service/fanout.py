"""``n > 1`` over a protocol that answers one choice per call (its spec's
``one_choice_per_call``: Anthropic's Messages API, Bedrock, the Responses API): n calls
to the same approved endpoint at once, merged into one answer with n choices and the
summed usage (each call was billed its prompt). Streamed, the n upstream streams are
merged as they arrive: each chunk relabelled with its choice's index and one stream id,
the usage summed into one last usage chunk. One failed call fails the whole attempt
(the others are cancelled): before the first chunk it falls back as any attempt does,
after it the stream ends with an error event, never with n-1 choices silently.

Usage::

    answer = await fan_out(request.n, lambda: runner.call_json(approval, call, parse))
    async for chunks in merged_streams(n, lambda: decoded(...)): ...  # service.streaming
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

from zdrgate.protocols.common import JSON, int_field
from zdrgate.wire.chat import ChatRequest

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def fanned_out(request: ChatRequest, one_choice_per_call: bool) -> int:
    """How many calls a request needs (1: no fan-out)."""
    n = request.n or 1
    return n if one_choice_per_call and n > 1 else 1


async def fan_out(n: int, call: Callable[[], Awaitable[JSON]]) -> JSON:
    """The n answers of ``call`` as one completion. A failure of any call fails the
    whole (the others are cancelled), so the attempt falls back as one."""
    tasks = [asyncio.ensure_future(call()) for _ in range(n)]
    try:
        answers = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    return merge(answers)


def merge(answers: list[JSON]) -> JSON:
    merged = answers[0]
    choices = []
    for index, answer in enumerate(answers):
        for item in answer.get("choices") or ():
            choices.append({**item, "index": index})
    merged["choices"] = choices
    usages = [a.get("usage") for a in answers]
    if any(isinstance(u, dict) for u in usages):
        merged["usage"] = {k: sum(int_field(u, k) for u in usages) for k in _COUNTS}
    return merged


async def merged_streams(
    n: int, stream: Callable[[], AsyncGenerator[list[JSON], None]]
) -> AsyncGenerator[list[JSON], None]:
    """The chunk lists of n ``stream()`` s as one stream's (module doc): relabelled as
    they arrive, one summed usage chunk last; any stream's failure raises here."""
    queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=2 * n)  # backpressure
    pumps = [asyncio.ensure_future(_pump(stream(), i, queue)) for i in range(n)]
    merged, running = _Merged(), n
    try:
        while running:
            index, item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            elif chunks := merged.relabel(index, item):
                yield chunks
        if (usage := merged.usage_chunk()) is not None:
            yield [usage]
    finally:
        for pump in pumps:  # a failed or abandoned stream: the others stop (connections freed)
            pump.cancel()


_Item = tuple[int, list[JSON] | BaseException | None]  # None: that stream ended well


async def _pump(
    source: AsyncGenerator[list[JSON], None], index: int, queue: asyncio.Queue[_Item]
) -> None:
    """One of the n streams into ``queue``; its failure is put there too."""
    try:
        async with aclosing(source):
            async for chunks in source:
                await queue.put((index, chunks))
    except Exception as exc:
        await queue.put((index, exc))
        return
    await queue.put((index, None))


class _Merged:
    """Chunks of the n streams as chunks of one: choice ``index`` set to its stream's,
    one ``id``; each stream's usage kept aside and summed at the end."""

    def __init__(self) -> None:
        self._id: object = None
        self._usages: dict[int, JSON] = {}
        self._last: JSON | None = None

    def relabel(self, index: int, chunks: list[JSON]) -> list[JSON]:
        out = []
        for chunk in chunks:
            usage = chunk.pop("usage", None)
            if isinstance(usage, dict):
                self._usages[index] = usage
            choices = chunk.get("choices")
            if not choices:
                continue  # a usage-only chunk: summed at the end
            for choice in choices:
                choice["index"] = index
            self._id = self._id or chunk.get("id")
            chunk["id"] = self._id
            self._last = chunk
            out.append(chunk)
        return out

    def usage_chunk(self) -> JSON | None:
        if not self._usages or self._last is None:
            return None
        head: JSON = {k: self._last[k] for k in ("id", "object", "created", "model", "provider")
                if k in self._last}  # fmt: skip
        summed = {k: sum(int_field(u, k) for u in self._usages.values()) for k in _COUNTS}
        return {**head, "choices": [], "usage": summed}
