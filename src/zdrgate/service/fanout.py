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
    async for event in fan_out_stream(runner, approval, spec, request, tally): ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from zdrgate.policy import Approval
from zdrgate.protocols import ProtocolSpec, UpstreamCall
from zdrgate.protocols.common import JSON, int_field
from zdrgate.service.events import END, Chunks, Committed, StreamEvent
from zdrgate.service.runner import Runner
from zdrgate.service.served import Served
from zdrgate.service.tally import Tally
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


async def fan_out_stream(
    runner: Runner, approval: Approval, spec: ProtocolSpec, request: ChatRequest, tally: Tally
) -> AsyncIterator[StreamEvent]:
    """The events of ``request.n`` streams of one endpoint as one stream (module doc)."""
    n, one = request.n or 1, request.model_copy(update={"n": None})
    call = spec.require_chat().build_chat(approval.endpoint, one)
    queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=2 * n)  # backpressure
    pumps = [
        asyncio.ensure_future(_pump(runner, approval, spec, one, call, i, queue)) for i in range(n)
    ]
    merged, began, running = _Merged(), time.perf_counter(), n
    try:
        while running:
            index, item = await queue.get()
            if item is None:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            if not (chunks := merged.relabel(index, item)):
                continue
            if not merged.committed:
                merged.committed = True
                tally.first_chunk_at = now = time.perf_counter()
                runner.health.record_success(approval.endpoint.id, now - began)
                yield Committed(Served.of(approval))
            tally.see(chunks)
            yield Chunks(chunks)
        if (usage := merged.usage_chunk()) is not None:
            tally.see([usage])
            yield Chunks([usage])
    finally:
        for pump in pumps:  # a failed or abandoned stream: the others stop (connections freed)
            pump.cancel()
    tally.outcome = "done"
    yield END


_Item = tuple[int, list[JSON] | BaseException | None]  # None: that stream ended well


async def _pump(
    runner: Runner, approval: Approval, spec: ProtocolSpec, request: ChatRequest,
    call: UpstreamCall, index: int, queue: asyncio.Queue[_Item],
) -> None:
    """One of the n streams, decoded, into ``queue``; its failure is put there too."""
    endpoint = approval.endpoint
    decoder = spec.require_stream().stream_decoder(endpoint, request)
    try:
        async with runner.dispatcher.send(approval, call) as response:
            if response.status != 200:
                await runner.raise_for_status(endpoint, response)
            async for data in response.iter_chunks():
                if chunks := decoder.feed(data):
                    await queue.put((index, chunks))
            if tail := decoder.finish():
                await queue.put((index, tail))
    except Exception as exc:
        await queue.put((index, exc))
        return
    await queue.put((index, None))


class _Merged:
    """Chunks of the n streams as chunks of one: choice ``index`` set to its stream's,
    one ``id``; each stream's usage kept aside and summed at the end."""

    def __init__(self) -> None:
        self.committed = False
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
