"""Model-serving requests identified under the last revocation epoch seen, with Redis.

Such a request's identity is confirmed by its admission, whose one Redis round trip
reads the epoch (``accounts.epoch``, ``limits.redis_counters``). A request that ends
in an error may never have reached its admission (a model its key's allowlist left
out, a region with no endpoint), or been refused there under limits that have since
changed: so its error response is held back, and the epoch read once more. If the
epoch moved since its key or session was read, the caller is identified again and the
request runs again under what the key may do now (a revoked key: 401); else the
error stands. Served requests cost nothing here.

Usage (the front app, for a request where ``admission_reads_epoch``)::

    refused = await Recheckable(state, scope, body, receive).serve(run, send)
    # run(receive, send) serves the request; refused: a GatewayError to send instead
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import Message, Receive, Scope, Send

from zdrgate.accounts.keys import Principal
from zdrgate.errors import GatewayError
from zdrgate.server.identity import PRINCIPAL, identify
from zdrgate.server.state import AppState

Run = Callable[[Receive, Send], Awaitable[None]]
_OUTAGE = 503  # the epoch cannot be read either: the error stands


class HeldErrors:
    """Passes a response on, unless it is an error: that is kept until released."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.held: list[Message] = []

    async def __call__(self, message: Message) -> None:
        if self.held or _is_error_start(message):
            self.held.append(message)
        else:
            await self._send(message)

    async def release(self) -> None:
        for message in self.held:
            await self._send(message)


def _is_error_start(message: Message) -> bool:
    if message["type"] != "http.response.start":
        return False
    status: int = message["status"]
    return 400 <= status != _OUTAGE


class Recheckable:
    def __init__(self, state: AppState, scope: Scope, body: bytes, receive: Receive) -> None:
        self.state = state
        self.scope = scope
        self.body = body
        self._receive = receive

    async def serve(self, run: Run, send: Send) -> GatewayError | None:
        """Run the request; on an error under a stale identity, identify again and run
        once more. Returns the refusal to send instead, if the new identity fails."""
        held = HeldErrors(send)
        await run(self._replay(), held)
        if not held.held:
            return None
        try:
            stale = await self._stale()
        except GatewayError:
            stale = False
        if not stale:
            await held.release()
            return None
        try:
            self.scope[PRINCIPAL] = await identify(self.state, self.scope)
        except GatewayError as error:
            return error
        await run(self._replay(), send)
        return None

    async def _stale(self) -> bool:
        principal: Principal = self.scope[PRINCIPAL]
        if principal.recheck is None:
            return False
        return await self.state.auth.epoch.current(fresh=True) != principal.epoch

    def _replay(self) -> Receive:
        """The body read already, then the client's own messages (a disconnect)."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return await self._receive()
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        return receive
