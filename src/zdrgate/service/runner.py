"""The one attempt loop of every model-serving route: chat, streams, images, embeddings.

Approvals are tried in plan order. A retryable failure (``UpstreamFailure``,
``StreamProtocolError``) is recorded against the endpoint's health and the next
approval is tried; a request the upstream found invalid (``RejectedByUpstream``) ends
the request at once; when every approval failed, one error says how. A stream falls
back only until its first chunk: after that, a failure ends it as
:class:`StreamFailed`, never as a silent cut.

Usage::

    result, approval = await runner.first(plan, meter, attempt)     # whole answers
    async for event in runner.stream(plan, meter, tally, attempt):  # streams
        ...
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from zdrgate.catalog.model import Endpoint
from zdrgate.policy import Approval
from zdrgate.protocols import ErrorKind, StreamProtocolError, UpstreamCall, endpoint_spec
from zdrgate.routing import HealthBoard
from zdrgate.service.attempt import RejectedByUpstream, rejected
from zdrgate.service.events import END, Committed, StreamEvent, StreamFailed
from zdrgate.upstream import Dispatcher, UpstreamFailure, UpstreamResponse
from zdrgate.upstream.dispatch import ERROR_BODY_LIMIT

if TYPE_CHECKING:
    from zdrgate.service.metering import Metering
    from zdrgate.service.tally import Tally

T = TypeVar("T")
_RETRYABLE = (UpstreamFailure, StreamProtocolError)


class Runner:
    def __init__(self, dispatcher: Dispatcher, health: HealthBoard) -> None:
        self.dispatcher = dispatcher
        self.health = health

    async def first(
        self, plan_approvals: tuple[Approval, ...], meter: Metering,
        attempt: Callable[[Approval], Awaitable[T]],
    ) -> tuple[T, Approval]:
        """The first approval whose attempt returns wins. Rate limits and budgets
        admit the request first: nothing is sent if they refuse."""
        plan_approvals = await meter.admit(plan_approvals)
        try:
            for approval in plan_approvals:
                try:
                    return await attempt(approval), approval
                except _RETRYABLE as exc:
                    self._failed(meter, approval, exc.kind)
                except RejectedByUpstream as exc:
                    meter.failed(exc)
                    raise
        except BaseException:
            meter.release()  # a cancelled or broken request holds no reservation
            raise
        error = meter.attempts.final_error()
        meter.failed(error)
        raise error

    async def stream(
        self, plan_approvals: tuple[Approval, ...], meter: Metering, tally: Tally,
        attempt: Callable[[Approval], AsyncIterator[StreamEvent]],
    ) -> AsyncGenerator[StreamEvent, None]:
        """The events of the first approval whose stream starts; one usage row, recorded
        before the last event is yielded (so it can be written before the client has
        the stream's end), or at the end of a stream the client left.
        Rate limits and budgets admit the request before its first attempt."""
        plan_approvals = await meter.admit(plan_approvals)  # refused: raised, nothing sent
        served: Endpoint | None = None
        try:
            for approval in plan_approvals:
                try:
                    async for event in attempt(approval):
                        if event.__class__ is Committed:
                            served = approval.endpoint
                            yield _with_limits(event, meter)
                            continue
                        if event is END:  # the attempt ended the stream (and told the tally)
                            tally.metered(meter, served)
                        yield event
                    return
                except _RETRYABLE as exc:
                    self._failed(meter, approval, exc.kind)
                    if served is not None:
                        tally.outcome = exc.kind.value
                        tally.metered(meter, served)
                        yield StreamFailed(exc.kind)
                        return
                except RejectedByUpstream as rejection:
                    tally.outcome, tally.status = rejection.code, rejection.status
                    tally.metered(meter, served)
                    yield rejection
                    return
            error = meter.attempts.final_error()
            tally.outcome, tally.status = error.code, error.status
            tally.metered(meter, served)
            yield error
        finally:
            tally.metered(meter, served)  # a no-op when metered above

    async def call_json(
        self, approval: Approval, call: UpstreamCall, parse: Callable[[Endpoint, bytes], T]
    ) -> T:
        """One attempt with a whole-body response. Raises UpstreamFailure (retryable),
        StreamProtocolError (malformed answer) or RejectedByUpstream (final)."""
        endpoint = approval.endpoint
        began = time.perf_counter()
        async with self.dispatcher.send(approval, call) as response:
            if response.status != 200:
                await self.raise_for_status(endpoint, response)
            result = parse(endpoint, await response.read())
        self.health.record_success(endpoint.id, time.perf_counter() - began)
        return result

    async def raise_for_status(self, endpoint: Endpoint, response: UpstreamResponse) -> None:
        body = await response.read(ERROR_BODY_LIMIT)
        classify = endpoint_spec(endpoint).classify
        info = classify(response.status, response.headers, body)
        del body  # classified; never kept, logged or relayed
        if not info.kind.retryable:
            raise rejected(endpoint.id, info)
        raise UpstreamFailure(info.kind, endpoint.id, response.status)

    def _failed(self, meter: Metering, approval: Approval, kind: ErrorKind) -> None:
        meter.attempts.failed(kind)
        self.health.record_failure(approval.endpoint.id)


def _with_limits(event: StreamEvent, meter: Metering) -> StreamEvent:
    """The receipt of a committed stream, with the caller's x-ratelimit-* headers."""
    assert isinstance(event, Committed)
    return Committed(event.served.with_limits(meter.ticket))
