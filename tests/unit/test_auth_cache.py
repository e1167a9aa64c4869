"""The API-key authenticator: bounded credentials, separate caches, the revocation
epoch, expiry, and failed attempts per address. A counting loader stands in for the
database (the store itself is tested in tests/test_auth_keys.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from zdrgate.accounts.auth import (
    MAX_CREDENTIAL_LENGTH,
    AuthBlocked,
    Authenticator,
    KeyGrant,
    check_master_key,
)
from zdrgate.accounts.epoch import MemoryEpoch
from zdrgate.accounts.failures import MemoryAuthFailures
from zdrgate.accounts.keys import NewKey, Principal, generate
from zdrgate.errors import AuthenticationFailed, ConfigError


@dataclass
class Rows:
    grants: dict[str, KeyGrant] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)

    def add(self, key: NewKey, expires_at: float | None = None) -> None:
        self.grants[key.key_id] = KeyGrant(
            key.secret_hash, Principal(key.key_id, is_admin=False), expires_at
        )

    def load(self, key_id: str) -> KeyGrant | None:
        self.loads.append(key_id)
        return self.grants.get(key_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make(rows: Rows, *, limit: int = 10**9, clock: Clock | None = None) -> Authenticator:
    clock = clock or Clock()
    failures = MemoryAuthFailures(limit=limit, clock=clock)
    return Authenticator(rows.load, None, MemoryEpoch(), failures, clock=clock, monotonic=clock)


async def test_a_valid_key_is_loaded_once_then_served_from_memory() -> None:
    rows, key = Rows(), generate()
    rows.add(key)
    auth = make(rows)
    for _ in range(3):
        assert (await auth.authenticate(f"Bearer {key.plaintext}")).key_id == key.key_id
    assert rows.loads == [key.key_id]


async def test_an_overlong_credential_is_refused_without_a_lookup() -> None:
    rows = Rows()
    auth = make(rows)
    with pytest.raises(AuthenticationFailed):
        await auth.key("zdr-" + "a" * 20 + "-" + "s" * MAX_CREDENTIAL_LENGTH)
    with pytest.raises(AuthenticationFailed):
        await auth.key("zdr-" + "a" * 40 + "-secret")  # a key id longer than any
    assert rows.loads == []


async def test_unknown_ids_neither_evict_valid_keys_nor_reach_the_database_twice() -> None:
    rows, key = Rows(), generate()
    rows.add(key)
    auth = make(rows)
    await auth.key(key.plaintext)
    for n in range(20_000):  # more than both caches hold
        with pytest.raises(AuthenticationFailed):
            await auth.key(f"zdr-{n:x}-guess")
    with pytest.raises(AuthenticationFailed):
        await auth.key("zdr-4e1f-guess")  # 0x4e1f = 19999, the newest negative entry
    assert rows.loads.count("4e1f") == 1
    assert (await auth.key(key.plaintext)).key_id == key.key_id
    assert rows.loads.count(key.key_id) == 1  # still cached


async def test_a_wrong_secret_for_a_cached_id_is_refused() -> None:
    rows, key = Rows(), generate()
    rows.add(key)
    auth = make(rows)
    await auth.key(key.plaintext)
    with pytest.raises(AuthenticationFailed):
        await auth.key(f"zdr-{key.key_id}-not-the-secret")


async def test_a_bump_of_the_epoch_drops_cached_keys_at_once() -> None:
    rows, key = Rows(), generate()
    rows.add(key)
    auth = make(rows)
    await auth.key(key.plaintext)
    del rows.grants[key.key_id]  # revoked in the database...
    assert (await auth.key(key.plaintext)).key_id == key.key_id  # ...still cached
    auth.epoch.bump()
    with pytest.raises(AuthenticationFailed):
        await auth.key(key.plaintext)


async def test_an_expired_key_is_refused_although_cached() -> None:
    rows, key, clock = Rows(), generate(), Clock()
    rows.add(key, expires_at=clock.now + 60)
    auth = make(rows, clock=clock)
    await auth.key(key.plaintext)
    clock.now += 60
    with pytest.raises(AuthenticationFailed) as caught:
        await auth.key(key.plaintext)
    assert caught.value.code == "api_key_expired"


async def test_an_address_with_too_many_failures_is_blocked_before_any_lookup() -> None:
    rows, key, clock = Rows(), generate(), Clock()
    rows.add(key)
    auth = make(rows, limit=3, clock=clock)
    for n in range(3):
        with pytest.raises(AuthenticationFailed):
            await auth.key(f"zdr-{n}-guess", "198.51.100.7")
    with pytest.raises(AuthBlocked) as caught:
        await auth.key(key.plaintext, "198.51.100.7")
    assert 1 <= caught.value.retry_after <= 60
    assert key.key_id not in rows.loads
    assert (await auth.key(key.plaintext, "198.51.100.8")).key_id == key.key_id  # others may
    clock.now += 61
    assert (await auth.key(key.plaintext, "198.51.100.7")).key_id == key.key_id


async def test_the_master_key_is_an_admin_and_must_be_long() -> None:
    master = "m" * 32
    auth = Authenticator(Rows().load, master, MemoryEpoch(), MemoryAuthFailures())
    assert (await auth.authenticate(f"Bearer {master}")).is_admin
    with pytest.raises(ConfigError, match="32 to 256"):
        check_master_key("short-master-key")


async def test_the_failure_table_is_bounded() -> None:
    failures = MemoryAuthFailures(limit=2)
    for n in range(100_050):
        await failures.hit(f"10.0.{n // 256}.{n % 256}")
    assert len(failures._windows) <= 100_000
