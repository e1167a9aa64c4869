"""Usage metering off the request path: rows are buffered and written in batches.

A row is built from allowlisted metadata only (see :class:`UsageEvent`).

With ``storage.usage_flush_seconds = 0`` the recorder is *durable*: each batch is
written as soon as the writer is free (a group commit), and a response waits for its
request's row before its last bytes go out (:func:`rows_first`, used by the front
app): a client that has a whole response knows its usage row is committed, so a
``kill -9`` right after loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import fields
from typing import Any, Protocol

import sqlalchemy as sa

from zdrgate.accounts import schema
from zdrgate.accounts.store import Store
from zdrgate.accounts.usage_event import UsageEvent
from zdrgate.metrics import Metrics

log = logging.getLogger("zdrgate.usage")
_MAX_BACKLOG = 100_000
_RETRY_SECONDS = 0.25  # how often rows the database was away for are retried
_WAITING: contextvars.ContextVar[list[asyncio.Future[None]] | None] = contextvars.ContextVar(
    "zdrgate_usage_waiting", default=None
)
"""The current request's unwritten batches (durable recorders only), see rows_first."""


_FIELDS = tuple(f.name for f in fields(UsageEvent))
# Text columns and their lengths: a value is cut to fit and loses NUL bytes (which
# PostgreSQL refuses), so every database stores the same row and none refuses it.
_TEXT_LIMITS = {
    c.name: c.type.length or 1 << 16 for c in schema.usage.columns if isinstance(c.type, sa.String)
}


def _row(event: UsageEvent) -> dict[str, object]:
    # Not dataclasses.asdict: it deep-copies every value (about 60 us a row).
    row = {name: getattr(event, name) for name in _FIELDS}
    row["started_at"] = dt.datetime.fromtimestamp(event.started_at, dt.UTC)
    for name, limit in _TEXT_LIMITS.items():
        value = row.get(name)
        if isinstance(value, str) and (len(value) > limit or "\x00" in value):
            row[name] = value.replace("\x00", "")[:limit]
    return row


class SpanSink(Protocol):
    def observe(self, event: UsageEvent, ttft_seconds: float | None = None) -> None: ...

    def shutdown(self) -> None: ...


class UsageRecorder:
    def __init__(
        self, store: Store, flush_seconds: float = 1.0, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._pending = asyncio.Event()  # set by the first row after a flush
        self._buffer: list[UsageEvent] = []
        self._backlog: list[dict[str, object]] = []  # rows the database was away for
        self._task: asyncio.Task[None] | None = None
        self.durable = flush_seconds == 0
        """Responses wait for their row (:func:`rows_first`)."""
        self._written: asyncio.Future[None] | None = None  # the buffer's batch, when written
        self.metrics = metrics
        self.spans: SpanSink | None = None
        """Optional traces (``zdrgate.tracing``), fed like the metrics."""

    def record(self, event: UsageEvent, ttft_seconds: float | None = None) -> None:
        """Queue the row; ``ttft_seconds`` (time to a stream's first chunk) feeds the
        metrics only."""
        self._buffer.append(event)
        if not self._pending.is_set():
            self._pending.set()
        if self.durable and (waiting := _WAITING.get()) is not None and self._writing():
            if self._written is None:
                self._written = asyncio.get_running_loop().create_future()
            waiting.append(self._written)
        if self.metrics is not None:
            self.metrics.observe(event, ttft_seconds)
        if self.spans is not None:
            self.spans.observe(event, ttft_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def _writing(self) -> bool:
        """The writer runs (a response never waits for a row nothing will write)."""
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        if self.spans is not None:
            await asyncio.to_thread(self.spans.shutdown)  # flushes the last spans

    @property
    def backlogged(self) -> bool:
        """Rows wait for a database that was away; the service refuses new requests
        (503 ``usage_store_unavailable``) until they are written."""
        return bool(self._backlog)

    async def flush(self) -> None:
        batch, self._buffer = self._buffer, []
        written, self._written = self._written, None
        try:
            await self._write(batch)
        finally:  # written, or kept for the database to come back: the response may go
            if written is not None and not written.done():
                written.set_result(None)

    async def _write(self, batch: list[UsageEvent]) -> None:
        rows, self._backlog = self._backlog + [_row(e) for e in batch], []
        if not rows:
            return
        try:
            await asyncio.to_thread(self._store.insert_usage, rows)
        except Exception as exc:  # a failed batch must not stop serving
            waiting, lost = await asyncio.to_thread(self._insert_each, rows)
            self._keep(waiting)
            log.error(
                "usage batch of %d rows failed (%s); written one by one, %d kept for the "
                "database to come back, %d lost",
                len(rows), type(exc).__name__, len(waiting), lost,
            )

    def _insert_each(
        self, rows: list[dict[str, object]]
    ) -> tuple[list[dict[str, object]], int]:
        """Write rows one at a time so one bad row loses only itself. Returns the rows
        not written because the database is away (a connection-level error: kept for
        the next flush) and how many bad rows were lost."""
        lost = 0
        for done, row in enumerate(rows):
            try:
                self._store.insert_usage([row])
            except (sa.exc.OperationalError, sa.exc.InterfaceError):
                return rows[done:], lost
            except Exception:  # this row only: counted, its values never logged
                lost += 1
        return [], lost

    def _keep(self, rows: list[dict[str, object]]) -> None:
        # New requests are refused while rows wait, so this grows only by the requests
        # that were in flight; the bound is a last resort.
        self._backlog = rows[-_MAX_BACKLOG:]
        if len(rows) > _MAX_BACKLOG:
            log.error("%d usage rows dropped: the database stayed away", len(rows) - _MAX_BACKLOG)

    async def _run(self) -> None:
        # Wait for a row, then gather for flush_seconds (0: just the rows that arrive
        # while the previous batch is written, a group commit), then write. Rows the
        # database was away for are retried without waiting for a new row.
        while True:
            if not self._backlog:
                await self._pending.wait()
            self._pending.clear()
            await asyncio.sleep(self._flush_seconds or (_RETRY_SECONDS if self._backlog else 0))
            await self.flush()


Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def rows_first(send: Send) -> Send:
    """For one request (call it in the request's task, before the app): an ASGI
    ``send`` that holds each message until the usage rows the request has recorded so
    far are written. A plain response waits before its start; a stream, whose row is
    recorded before its last event, waits before the bytes that end it."""
    waiting: list[asyncio.Future[None]] = []
    _WAITING.set(waiting)

    async def send_after_rows(message: MutableMapping[str, Any]) -> None:
        if waiting:
            pending = [f for f in waiting if not f.done()]
            waiting.clear()
            if pending:  # asyncio.wait: a client that leaves cancels no shared batch
                await asyncio.wait(pending)
        await send(message)

    return send_after_rows
