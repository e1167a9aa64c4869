"""Per-request cost of API-key authentication on a cache hit, by revocation epoch.

    .venv/bin/python bench/auth_cost.py [--redis redis://127.0.0.1:6379/0]

Times ``Authenticator.key`` for a cached key (the path every request takes) with the
in-process epoch, the epoch file (one ``stat``) and Redis (one ``GET`` round trip; or
none, for a model-serving request, whose admission reads the epoch), and the epoch
check alone. Wall and CPU time per call, medians of 5 runs (CPU: this process only,
not the Redis server).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from zdrgate.accounts.auth import Authenticator, KeyGrant
from zdrgate.accounts.epoch import AuthEpoch, FileEpoch, MemoryEpoch, RedisEpoch
from zdrgate.accounts.failures import MemoryAuthFailures
from zdrgate.accounts.keys import Principal, generate


async def per_call_us(run: object, calls: int, concurrency: int = 1) -> tuple[float, float]:
    """(wall, CPU) microseconds per call, medians of 5 runs."""
    walls, cpus = [], []

    async def worker(n: int) -> None:
        for _ in range(n):
            await run()  # type: ignore[operator]

    for _ in range(5):
        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
        walls.append((time.perf_counter() - began) / calls * 1e6)
        cpus.append((time.process_time() - cpu) / calls * 1e6)
    return statistics.median(walls), statistics.median(cpus)


async def measure(
    name: str, epoch: AuthEpoch, calls: int, concurrency: int = 1, fresh: bool = True
) -> None:
    key = generate()
    grant = KeyGrant(key.secret_hash, Principal(key.key_id, is_admin=False))
    auth = Authenticator(lambda _id: grant, None, epoch, MemoryAuthFailures())
    await auth.key(key.plaintext)
    wall, cpu = await per_call_us(lambda: auth.key(key.plaintext, "", fresh), calls, concurrency)
    check = await per_call_us(lambda: epoch.current(fresh), calls, concurrency)
    print(f"| {name} | {concurrency} | {wall:.2f} / {cpu:.2f} | {check[0]:.2f} / {check[1]:.2f} |")
    await epoch.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    print("| epoch | concurrent callers | authenticate a cached key, wall / CPU (us) "
          "| epoch check alone, wall / CPU (us) |")
    print("|---|---|---|---|")
    await measure("memory (one process)", MemoryEpoch(), 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        file_epoch = FileEpoch(Path(tmp) / "auth-epoch")
        file_epoch.bump()
        await measure("file (stat)", file_epoch, 100_000)
    if args.redis:
        for concurrency in (1, 100):
            epoch = RedisEpoch(args.redis, f"bench-{uuid.uuid4().hex}")
            await measure("redis (GET)", epoch, 20_000, concurrency)
        # A model-serving request: the last epoch seen; its admission's script reads it.
        epoch = RedisEpoch(args.redis, f"bench-{uuid.uuid4().hex}")
        await measure("redis, read by the admission", epoch, 100_000, 1, fresh=False)


if __name__ == "__main__":
    asyncio.run(main())
