"""Everything a running app holds, built once by the app factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from zdrgate.accounts.auth import Authenticator
from zdrgate.accounts.passkeys import Passkeys
from zdrgate.accounts.sessions import Sessions
from zdrgate.accounts.store import Store
from zdrgate.catalog.model import Catalog
from zdrgate.config import Settings
from zdrgate.receipts import ReceiptSigner
from zdrgate.server.listing_cache import DocumentCache
from zdrgate.service import Gateway


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    gateway: Gateway
    auth: Authenticator
    store: Store
    sessions: Sessions
    passkeys: Passkeys
    receipts: ReceiptSigner
    base_catalog: Catalog | None = None  # the packaged catalog, before the config
    log_policy_changes: bool = True  # off for `zdrgate audit`, whose providers are fakes
    documents: DocumentCache = field(default_factory=DocumentCache)  # rendered listings
