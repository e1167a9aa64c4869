"""What the proofs do while the gateway runs: log policy changes at start, and keep
providers whose evidence awaits review unroutable (``evidence.on_change = "suspend"``).

Usage (the app's lifespan)::

    task = start_proofs(state)      # after migrations
    ...
    await stop_proofs(task)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import sqlalchemy as sa

from zdrgate.policylog import PolicyLog, record_changes
from zdrgate.server.state import AppState
from zdrgate.watch import under_review

log = logging.getLogger("zdrgate.proofs")


def start_proofs(state: AppState) -> asyncio.Task[None] | None:
    if state.log_policy_changes:
        log_policy_changes(state)
    if state.settings.evidence.on_change != "suspend":
        return None
    state.gateway.engine.suspend(under_review(PolicyLog(state.store.engine)))
    return asyncio.ensure_future(_refresh(state))


async def stop_proofs(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def log_policy_changes(state: AppState) -> int:
    """Append what changed in the served policy records since the log's last entries
    (nothing when nothing changed). Returns the number of entries."""
    policy_log = PolicyLog(state.store.engine)
    for attempt in (1, 2):
        logged = policy_log.record_state()
        changes = record_changes(logged, state.gateway.catalog, state.base_catalog)
        try:
            return len(policy_log.append(changes, state.receipts.ring))
        except sa.exc.IntegrityError:
            if attempt == 2:  # another instance appended at the same moment, twice
                raise
    return 0


async def _refresh(state: AppState) -> None:
    """A watch run by cron in another process suspends or releases providers here too."""
    policy_log = PolicyLog(state.store.engine)
    while True:
        await asyncio.sleep(state.settings.evidence.refresh_seconds)
        try:
            suspended = await asyncio.to_thread(under_review, policy_log)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not read the policy log: %s", type(exc).__name__)
            continue
        state.gateway.engine.suspend(suspended)
