"""What a key may do, loaded from its rows: the :class:`~zdrgate.accounts.auth.KeyGrant`.

Usage::

    auth = Authenticator(grant_loader(store), master_key, epoch, failures)

One query reads the key with its owner's and team's limits (``keys_store``); the
principal carries the key's allowlist, region and images flag. A revoked key loads
as None, like an unknown one; an expired key loads with its expiry, which the
authenticator checks on every request.
"""

from __future__ import annotations

from zdrgate.accounts.accounts_store import aware
from zdrgate.accounts.auth import KeyGrant, KeyLoader
from zdrgate.accounts.store import Store


def grant_loader(store: Store) -> KeyLoader:
    def load(key_id: str) -> KeyGrant | None:
        row = store.get_key(key_id)
        if row is None or row.revoked:
            return None
        expires = aware(row.expires_at).timestamp() if row.expires_at is not None else None
        return KeyGrant(row.secret_hash, row.principal(), expires)

    return load
