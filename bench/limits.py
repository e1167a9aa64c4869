"""CPU per request of authentication + rate limits + budgets, in memory (one instance).

The worst case the gateway sees on every request: a key whose row is cached by the
authenticator, with rpm, tpm and day and month budgets on the key, its account and its
team (6 rate buckets and 6 budget counters, all checked and taken in one step), then
the settlement of the actual usage. Measured against the same loop with the master key
(no limits: the limiter returns at once), and as process CPU time over many requests.

  .venv/bin/python bench/limits.py                 # CPU time, ~10 s
  .venv/bin/python bench/limits.py --instructions  # under callgrind, ~2 min
  .venv/bin/python bench/limits.py --redis redis://127.0.0.1:6379/0   # several instances

``--redis`` runs the same requests with the counters and the revocation epoch in Redis,
as a model-serving request does (identified under the last epoch seen, the epoch read by
the admission's script, the principal reconfirmed), and, for comparison, with the epoch
read by a ``GET`` of its own: Redis commands sent per request (counted in redis-py's
connection), wall and process CPU time per request, 1 and 100 concurrent callers.

``--instructions`` runs each caller twice under valgrind's callgrind (2,000 and 6,000
requests) and reports the difference per request: instructions, which this noisy
machine cannot move (see bench/instructions.py), with set-up and imports cancelled out.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zdrgate.accounts.admin import Admin
from zdrgate.accounts.auth import Authenticator
from zdrgate.accounts.epoch import MemoryEpoch
from zdrgate.accounts.failures import MemoryAuthFailures
from zdrgate.accounts.grants import grant_loader
from zdrgate.accounts.keys import Limits
from zdrgate.accounts.keys_store import KeySpec
from zdrgate.accounts.store import Store
from zdrgate.catalog.model import Endpoint, PolicyRecord, Provider
from zdrgate.limits import Demand, Limiter, MemoryCounters

MASTER = "bench-master-key-of-at-least-32-characters"
BIG = Limits(rpm=10**9, tpm=10**12, budget_day_usd=10.0**9, budget_month_usd=10.0**9)


def endpoint() -> Endpoint:
    record = PolicyRecord(0, False, "default", ("https://example.invalid",), None, "high")
    provider = Provider("p", "P", "openai", "http://127.0.0.1:9/v1", "", record)
    return Endpoint("a/b", provider, "b", record, prompt_price=1.0, completion_price=2.0)


def limited_key(store: Store) -> str:
    admin = Admin(store, "bench")
    account, _ = admin.create_account("bench@example.org", team=None, display_name="Bench")
    team = admin.create_team("bench")
    admin.set_member(team.id, account.id, member=True)
    admin.update_account(account.id, {"rpm": BIG.rpm, "tpm": BIG.tpm,
                                      "budget_day_usd": BIG.budget_day_usd,
                                      "budget_month_usd": BIG.budget_month_usd})
    admin.update_team(team.id, {"rpm": BIG.rpm, "tpm": BIG.tpm,
                                "budget_day_usd": BIG.budget_day_usd,
                                "budget_month_usd": BIG.budget_month_usd})
    key, _ = admin.create_key(KeySpec(name="bench", account_id=account.id, team_id=team.id,
                                      limits=BIG))
    return key.plaintext


async def per_request(auth: Authenticator, header: str, n: int) -> float:
    """Process CPU seconds per request of authenticate + admit + headers + settle."""
    limiter = Limiter(MemoryCounters())
    endpoints = (endpoint(),)
    demand = Demand(prompt_tokens=40, max_tokens=256)
    for _ in range(1000):  # warm the key cache and the counters
        principal = await auth.authenticate(header)
        (await limiter.admit(principal, demand, endpoints)).settle(30, 1e-5)
    headers = 0
    began = time.process_time()
    for _ in range(n):
        principal = await auth.authenticate(header)
        ticket = await limiter.admit(principal, demand, endpoints)
        headers += len(ticket.headers)  # x-ratelimit-* of the response
        ticket.settle(30, 1e-5)
    return (time.process_time() - began) / n


async def once(only: str, n: int) -> None:
    """One caller, ``n`` requests (what --instructions runs under callgrind)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        auth = Authenticator(grant_loader(store), MASTER, MemoryEpoch(), MemoryAuthFailures())
        header = f"Bearer {limited_key(store) if only == 'limited' else MASTER}"
        await per_request(auth, header, n)
        store.close()


def instructions() -> None:
    def count(only: str, n: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "callgrind.out"
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                   sys.executable, __file__, "--only", only, "--requests", str(n)]
            subprocess.run(cmd, check=True, capture_output=True, timeout=900)
            return next(int(line.split()[1]) for line in out.read_text().splitlines()
                        if line.startswith("totals:"))

    print("| caller | instructions per request (auth + limits + headers + settle) |")
    print("|---|---:|")
    for only, label in (("master", "master key (no limits)"),
                        ("limited", "key + account + team, rpm/tpm/day/month each")):
        per = (count(only, 6000) - count(only, 2000)) / 4000
        print(f"| {label} | {per:,.0f} |")


async def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        auth = Authenticator(grant_loader(store), MASTER, MemoryEpoch(), MemoryAuthFailures())
        limited = f"Bearer {limited_key(store)}"
        principal = await auth.authenticate(limited)
        assert principal.team_id and principal.account_id and principal.key_limits == BIG
        rows = []
        for _ in range(rounds):  # interleaved, best of each: the machine is noisy
            rows.append((await per_request(auth, f"Bearer {MASTER}", n),
                         await per_request(auth, limited, n)))
        master = min(r[0] for r in rows)
        full = min(r[1] for r in rows)
        print(f"requests per round: {n}, rounds: {rounds} (best of each)")
        print("| caller | CPU per request (auth + limits + headers + settle) |")
        print("|---|---|")
        print(f"| master key (no limits) | {master * 1e6:.1f} us |")
        print(f"| key + account + team, rpm/tpm/day/month each | {full * 1e6:.1f} us |")
        store.close()


async def redis_rows(url: str, n: int) -> None:
    import uuid  # noqa: PLC0415

    import redis.asyncio  # noqa: PLC0415
    from redis.asyncio.connection import AbstractConnection  # noqa: PLC0415

    from zdrgate.accounts.epoch import REDIS_KEY_SUFFIX, RedisEpoch  # noqa: PLC0415
    from zdrgate.accounts.keys import reconfirmed  # noqa: PLC0415
    from zdrgate.limits.redis_counters import RedisCounters  # noqa: PLC0415

    sent = 0
    original = AbstractConnection.send_packed_command

    async def counted(self: object, command: object, check_health: bool = True) -> None:
        nonlocal sent
        sent += 1
        await original(self, command, check_health)  # type: ignore[arg-type]

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    prefix = f"zdrgate-bench-{uuid.uuid4().hex[:8]}:"
    client = redis.asyncio.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        epoch = RedisEpoch(url, prefix + REDIS_KEY_SUFFIX)
        auth = Authenticator(grant_loader(store), MASTER, epoch, MemoryAuthFailures())
        counters = RedisCounters(redis.asyncio.Redis.from_url(url), prefix=prefix)
        limiter = Limiter(counters)
        endpoints, demand = (endpoint(),), Demand(prompt_tokens=40, max_tokens=256)
        callers = {"limited": f"Bearer {limited_key(store)}"}
        admin = Admin(store, "bench")
        bare, _ = admin.create_key(KeySpec(name="bare"))
        callers["no limits"] = f"Bearer {bare.plaintext}"

        async def one(header: str, fresh: bool) -> None:
            principal = await auth.authenticate(header, fresh=fresh)
            ticket = await limiter.admit(principal, demand, endpoints)
            await reconfirmed(principal, ticket.epoch)
            ticket.settle(30, 1e-5)

        print("| caller | epoch read | concurrent | Redis commands per request "
              "| wall per request | CPU per request |")
        print("|---|---|---:|---:|---:|---:|")
        for name, header in callers.items():
            for fresh in (False, True):
                for concurrency in (1, 100):
                    per_worker = n // concurrency

                    async def worker(h: str = header, f: bool = fresh, k: int = per_worker) -> None:
                        for _ in range(k):
                            await one(h, f)

                    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up
                    sent = 0
                    began, cpu = time.perf_counter(), time.process_time()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    total = per_worker * concurrency
                    wall = (time.perf_counter() - began) / total * 1e6
                    cpu_us = (time.process_time() - cpu) / total * 1e6
                    how = "own GET" if fresh else "in the script"
                    print(f"| {name} | {how} | {concurrency} | {sent / total:.2f} "
                          f"| {wall:.0f} us | {cpu_us:.0f} us |")
        await counters.close()
        await epoch.close()
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
        await client.aclose()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="count under callgrind")
    parser.add_argument("--only", choices=["master", "limited"], help=argparse.SUPPRESS)
    parser.add_argument("--redis", default="", help="measure against this Redis instead")
    args = parser.parse_args()
    if args.redis:
        asyncio.run(redis_rows(args.redis, min(args.requests, 2000)))
    elif args.instructions:
        instructions()
    elif args.only:
        asyncio.run(once(args.only, args.requests))
    else:
        asyncio.run(main(args.requests, args.rounds))
