"""What a stream is, to the routes: protocol-neutral events each renderer spells.

A stream yields either a :class:`Committed` (an endpoint sent its first chunk: headers
may go out) followed by :class:`Chunks` (canonical chunk dicts, one batch per
upstream read) and then :data:`END` or a :class:`StreamFailed`; or a
``GatewayError`` when no endpoint could start. Usage-only chunks are included: which
clients see them is the renderer's rule (OpenAI's ``include_usage``), not the service's.
"""

from __future__ import annotations

from dataclasses import dataclass

from zdrgate.errors import GatewayError
from zdrgate.protocols import ErrorKind
from zdrgate.protocols.common import JSON
from zdrgate.service.served import Served


@dataclass(frozen=True, slots=True)
class Committed:
    served: Served


@dataclass(slots=True)  # not frozen: one is made per upstream read
class Chunks:
    """Canonical ``chat.completion.chunk`` dicts from one upstream read."""

    items: list[JSON]


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The upstream broke off after the stream started, in this way; the answer is
    incomplete. Terminal: renderers end the stream with their protocol's error."""

    kind: ErrorKind

    @property
    def message(self) -> str:
        return (
            f"The upstream stream failed after it started ({self.kind.value}); "
            "the response is incomplete."
        )


class StreamEnd:
    """The stream ended properly, after its last chunk."""


END = StreamEnd()
StreamEvent = Committed | Chunks | StreamFailed | StreamEnd | GatewayError
