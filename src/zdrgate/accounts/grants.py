"""What a key may do, loaded from its rows: the :class:`~zdrgate.accounts.auth.KeyGrant`.

Usage::

    auth = Authenticator(grant_loader(store), master_key, epoch, failures)
"""

from __future__ import annotations

from zdrgate.accounts.auth import KeyGrant, KeyLoader
from zdrgate.accounts.keys import Principal
from zdrgate.accounts.store import Store


def grant_loader(store: Store) -> KeyLoader:
    def load(key_id: str) -> KeyGrant | None:
        row = store.get_key(key_id)
        if row is None or row.revoked:
            return None
        return KeyGrant(row.secret_hash, Principal(row.key_id, row.is_admin))

    return load
