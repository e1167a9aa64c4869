"""What the proofs do while the gateway runs: record the receipt key in the shared key
history and renew it, log policy changes at start, and keep providers whose evidence
awaits review unroutable (``evidence.on_change = "suspend"``).

Usage (the app's lifespan)::

    tasks = start_proofs(state)      # after migrations
    ...
    await stop_proofs(tasks)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import sqlalchemy as sa

from zdrgate.policylog import PolicyLog, record_changes
from zdrgate.receipts import share_history
from zdrgate.receipts.keys import RENEW_EVERY
from zdrgate.server.state import AppState
from zdrgate.watch import under_review

log = logging.getLogger("zdrgate.proofs")


def start_proofs(state: AppState) -> list[asyncio.Task[None]]:
    ring = state.receipts.ring
    share_history(ring, state.store.engine, Path(state.settings.storage.data_dir))
    tasks = [asyncio.ensure_future(_renew_key(state))]
    if state.log_policy_changes:
        log_policy_changes(state)
    if state.settings.evidence.on_change == "suspend":
        state.gateway.engine.suspend(under_review(PolicyLog(state.store.engine)))
        tasks.append(asyncio.ensure_future(_refresh(state)))
    return tasks


async def stop_proofs(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _renew_key(state: AppState) -> None:
    """Keep this instance's receipt key listed in every instance's JWKS while it signs."""
    while True:
        await asyncio.sleep(RENEW_EVERY.total_seconds())
        try:
            await asyncio.to_thread(state.receipts.ring.renew)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not renew the receipt key: %s", type(exc).__name__)


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
