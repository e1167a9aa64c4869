"""Choosing the counters from the settings: memory, or Redis when ``storage.redis_url``.

Usage::

    counters = counters_for(settings.storage)
    await start(counters)          # in the app's lifespan: Redis checks and flushes
"""

from __future__ import annotations

import logging

from zdrgate.config import StorageSettings
from zdrgate.errors import ConfigError
from zdrgate.limits.counters import Counters
from zdrgate.limits.memory import MemoryCounters

log = logging.getLogger("zdrgate.limits")
_TIMEOUT_SECONDS = 2.0  # a Redis that hangs answers 503 after this, not never


def counters_for(storage: StorageSettings) -> Counters:
    if not storage.redis_url:
        return MemoryCounters()
    try:
        from redis.asyncio import Redis  # noqa: PLC0415 - optional dependency

        from zdrgate.limits.redis_counters import RedisCounters  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            "storage.redis_url is set but the redis package is missing: "
            "pip install 'zdrgate[redis]'"
        ) from exc
    client = Redis.from_url(
        storage.redis_url,
        socket_timeout=_TIMEOUT_SECONDS,
        socket_connect_timeout=_TIMEOUT_SECONDS,
    )
    return RedisCounters(client, prefix=storage.redis_key_prefix)
