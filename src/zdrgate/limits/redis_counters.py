"""Counters in Redis, shared by every instance: one round trip per request.

One Lua script does a request's whole admission atomically on the server (every
rate limit and budget of the key, its account and its team: check all, then take
all or nothing), reads the revocation epoch (``accounts.epoch``: so authentication
needs no round trip of its own) and, in the same call, applies the settlements
queued since the last call (actual tokens and cost of finished requests). So the
request path costs exactly one ``EVALSHA``, also for a key without limits (the
script then only reads the epoch and settles); a background flush sends settlements
when no request does. The script reads the clock of Redis (``TIME``), so instances
need no shared clock.

Every key carries the hash tag ``{c}`` (``<prefix>{c}r:key:<key id>``): a script on
Redis Cluster may only touch keys of one slot, and a request's script touches its
key's, account's and team's counters, other requests' settlements and the epoch.

Redis holds counters and ids only: keys like ``<prefix>{c}r:key:<key id>`` whose
value is a number. Never content, so a Redis that persists to disk is acceptable.

Usage::

    counters = RedisCounters(redis.asyncio.Redis.from_url(url), prefix="zdrgate:")
    verdict = await counters.admit(rates, budgets, tokens, usd)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from zdrgate.accounts.epoch import REDIS_KEY_SUFFIX, SLOT_TAG
from zdrgate.limits.counters import (
    BudgetCheck,
    RateCheck,
    Settlement,
    StoreUnavailable,
    Verdict,
)

log = logging.getLogger("zdrgate.limits")
_MAX_QUEUED = 100_000  # settlements kept while Redis is away; beyond, the oldest go
FLUSH_SECONDS = 0.25
_PING_SECONDS = 2.0  # /readyz
_MGET_BATCH = 1000  # budget counters read per round trip at scrape time

# KEYS: the epoch, settle-rate keys, settle-budget keys, rate keys, budget keys.
# ARGV: counts (4), tokens, usd; then per settle-rate: limit, delta; per settle-budget:
# delta; per rate: limit, 1 if it counts tokens else 0; per budget: limit, ttl, seed.
# Returns {refused index (-1), retry ms, epoch, remaining1, reset ms1, remaining2, ...}.
ADMIT = """
local period = 60.0
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local nsr, nsb, nr, nb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, usd = tonumber(ARGV[5]), ARGV[6]
local k, a = 1, 6
local function put_tat(key, tat)
  if tat > now then
    redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
  else
    redis.call('DEL', key)
  end
end
for i = 1, nsr do
  local key, limit, delta = KEYS[k + i], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 2
  local tat = math.max(tonumber(redis.call('GET', key) or now), now)
  put_tat(key, tat + delta * period / limit)
end
k = k + nsr
for i = 1, nsb do
  a = a + 1
  if redis.call('EXISTS', KEYS[k + i]) == 1 then
    redis.call('INCRBYFLOAT', KEYS[k + i], ARGV[a])
  end
end
k = k + nsb
local out = {-1, 0, redis.call('GET', KEYS[1]) or ''}
local news = {}
for i = 1, nr do
  local limit = tonumber(ARGV[a + 1])
  local cost = 1
  if ARGV[a + 2] == '1' then
    cost = math.min(tokens, limit)
  end
  a = a + 2
  local step = period / limit
  local base = math.max(tonumber(redis.call('GET', KEYS[k + i]) or now), now)
  local new = base + cost * step
  local shown = new
  if new - now > period + 1e-9 then
    if out[1] < 0 then
      out[1] = i - 1
      out[2] = math.ceil((new - now - period) * 1000)
    end
    shown = base
  end
  news[i] = new
  out[#out + 1] = math.max(math.floor((period - (shown - now)) / step + 1e-9), 0)
  out[#out + 1] = math.ceil((shown - now) * 1000)
end
if out[1] < 0 then
  for i = 1, nb do
    local used = tonumber(redis.call('GET', KEYS[k + nr + i]) or ARGV[a + 3 * i])
    if used >= tonumber(ARGV[a + 3 * i - 2]) then
      out[1] = nr + i - 1
      break
    end
  end
end
if out[1] >= 0 then
  return out
end
for i = 1, nr do
  put_tat(KEYS[k + i], news[i])
end
for i = 1, nb do
  local key = KEYS[k + nr + i]
  if redis.call('EXISTS', key) == 0 then
    redis.call('SET', key, ARGV[a + 3 * i], 'EX', ARGV[a + 3 * i - 1])
  end
  redis.call('INCRBYFLOAT', key, usd)
end
return out
"""

# KEYS[1]: the key; ARGV: limit. Returns the ms until one more event fits (0: it fits).
HIT = """
local period = 60.0
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local step = period / tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now) + step
tat = math.min(tat, now + 2 * period)
redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return math.max(math.ceil((tat + step - now - period) * 1000), 0)
"""


class RedisCounters:
    carries_epoch = True

    def __init__(self, client: Redis, prefix: str = "zdrgate:") -> None:
        self._client = client
        self._prefix = prefix + SLOT_TAG  # every key in one Redis Cluster slot
        self._epoch_key = prefix + REDIS_KEY_SUFFIX
        self._admit = client.register_script(ADMIT)
        self._hit = client.register_script(HIT)
        self._rates: list[tuple[str, int, float]] = []
        self._budgets: list[tuple[str, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Say whether Redis persists to disk, and flush settlements in the background."""
        await self._report_persistence()
        self._task = asyncio.create_task(self._run())

    async def _report_persistence(self) -> None:
        # Acceptable either way: only counters and ids are ever written (docs/accounts.md).
        try:
            save = await self._client.config_get("save")
            aof = await self._client.config_get("appendonly")
        except (RedisError, OSError) as exc:
            log.warning("Redis persistence not checked (%s)", type(exc).__name__)
            return
        if save.get("save") or aof.get("appendonly") == "yes":
            log.info(
                "Redis persists to disk (save=%r, appendonly=%r); zdrgate stores only "
                "counters and ids there, never content",
                save.get("save"),
                aof.get("appendonly"),
            )

    async def admit(
        self,
        rates: tuple[RateCheck, ...],
        budgets: tuple[BudgetCheck, ...],
        tokens: float,
        usd: float,
    ) -> Verdict:
        p = self._prefix
        srates, sbudgets = self._take()
        keys = [self._epoch_key]
        keys += [p + r[0] for r in srates] + [p + b[0] for b in sbudgets]
        keys += [p + r.key for r in rates] + [p + b.key for b in budgets]
        args: list[Any] = [len(srates), len(sbudgets), len(rates), len(budgets)]
        args += (repr(float(tokens)), repr(float(usd)))
        for _, limit, delta in srates:
            args += (limit, repr(delta))
        args += [repr(delta) for _, delta in sbudgets]
        for rate in rates:
            args += (rate.limit, 1 if rate.tokens else 0)
        for budget in budgets:
            args += (repr(budget.limit), budget.ttl, repr(budget.seed))
        try:
            out = await self._admit(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._requeue(srates, sbudgets)
            raise StoreUnavailable(type(exc).__name__) from None
        states = tuple((int(out[i]), int(out[i + 1]) / 1000) for i in range(3, len(out), 2))
        return Verdict(int(out[0]), int(out[1]) / 1000, states, bytes(out[2]))

    def settle(self, settlement: Settlement) -> None:
        self._rates.extend(settlement.rates)
        self._budgets.extend(settlement.budgets)

    async def hit(self, key: str, limit: int) -> float:
        try:
            ms = await self._hit(keys=[self._prefix + key], args=[limit])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        return int(ms) / 1000

    async def used(self, key: str) -> float:
        """USD used (spent + reserved) on a budget counter; for tests and reports."""
        value = await self._client.get(self._prefix + key)
        return float(value) if value is not None else 0.0

    async def used_many(self, keys: Sequence[str]) -> list[float]:
        values: list[float] = []
        try:
            for at in range(0, len(keys), _MGET_BATCH):
                names = [self._prefix + key for key in keys[at : at + _MGET_BATCH]]
                found = await self._client.mget(names)
                values += [float(v) if v is not None else 0.0 for v in found]
        except (RedisError, OSError, ValueError) as exc:
            raise StoreUnavailable(type(exc).__name__) from None
        return values

    async def reachable(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._client.ping(), _PING_SECONDS))
        except (RedisError, OSError, TimeoutError):
            return False

    async def flush(self) -> None:
        if self._rates or self._budgets:
            await self.admit((), (), 0, 0.0)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(StoreUnavailable):
            await self.flush()
        await self._client.aclose()

    def _take(self) -> tuple[list[tuple[str, int, float]], list[tuple[str, float]]]:
        rates, budgets = self._rates, self._budgets
        if rates or budgets:
            self._rates, self._budgets = [], []
        return rates, budgets

    def _requeue(
        self, rates: list[tuple[str, int, float]], budgets: list[tuple[str, float]]
    ) -> None:
        self._rates[:0] = rates
        self._budgets[:0] = budgets
        if len(self._rates) > _MAX_QUEUED or len(self._budgets) > _MAX_QUEUED:
            log.error("limit settlements dropped while Redis is unreachable")
            del self._rates[:-_MAX_QUEUED], self._budgets[:-_MAX_QUEUED]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            with contextlib.suppress(StoreUnavailable):
                await self.flush()
