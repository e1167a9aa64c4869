"""An authenticator over a store, for tests that check keys without a server."""

from __future__ import annotations

from zdrgate.accounts.auth import Authenticator
from zdrgate.accounts.epoch import AuthEpoch, MemoryEpoch
from zdrgate.accounts.failures import MemoryAuthFailures
from zdrgate.accounts.grants import grant_loader
from zdrgate.accounts.store import Store


def authenticator(
    store: Store, master_key: str | None = None, epoch: AuthEpoch | None = None
) -> Authenticator:
    return Authenticator(
        grant_loader(store), master_key, epoch or MemoryEpoch(), MemoryAuthFailures()
    )
