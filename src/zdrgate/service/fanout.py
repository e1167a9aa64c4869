"""``n > 1`` over a protocol that answers one choice per call (its spec's
``one_choice_per_call``: Anthropic's Messages API): n calls to the same approved
endpoint at once, their answers merged into one completion with n choices and the
summed usage (each call was billed its prompt). Streams are not fanned out: the codec
refuses them with ``n_unsupported``.

Usage::

    answer = await fan_out(request.n, lambda: runner.call_json(approval, call, parse))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from zdrgate.protocols.common import JSON, int_field
from zdrgate.wire.chat import ChatRequest

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def fanned_out(request: ChatRequest, one_choice_per_call: bool) -> int:
    """How many calls a non-streamed request needs (1: no fan-out)."""
    n = request.n or 1
    return n if one_choice_per_call and n > 1 and not request.stream else 1


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
