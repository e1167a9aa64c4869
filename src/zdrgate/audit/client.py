"""The audit's probes sent over HTTP, to a gateway running in another process (a
deployment given with ``--target``, or the serving process the crash probe kills).

Usage::

    async with aiohttp.ClientSession() as session:
        result = await post_probe(session, "http://127.0.0.1:8080", probe, key)
        async with open_stream(session, base, probe, key) as first_bytes: ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from zdrgate.audit.probes import Probe, ProbeResult

TIMEOUT = aiohttp.ClientTimeout(total=120, sock_read=60)


def probe_headers(probe: Probe, key: str) -> dict[str, str]:
    value = f"Bearer {key}" if probe.key_header == b"authorization" else key
    headers = {"content-type": "application/json", probe.key_header.decode(): value,
               "cookie": "session=audit"}
    headers.update({k.decode(): v.decode() for k, v in probe.headers})
    return headers


async def post_probe(
    session: aiohttp.ClientSession, base: str, probe: Probe, key: str
) -> ProbeResult:
    """Send one probe and read its answer (all of it, or ``disconnect_after`` body
    parts, then drop the connection as a client that leaves would)."""
    result = ProbeResult(probe.name, 0)
    try:
        async with session.post(base + probe.path, data=probe.body,
                                headers=probe_headers(probe, key), timeout=TIMEOUT) as response:
            result.status = response.status
            parts = 0
            async for chunk in response.content.iter_any():
                parts += 1
                result.body_bytes += len(chunk)
                if probe.disconnect_after is not None and parts >= probe.disconnect_after:
                    response.close()  # closes the connection, not just this response
                    break
    except (TimeoutError, aiohttp.ClientError) as exc:
        result.events.append(f"transport: {type(exc).__name__}")
    return result


@asynccontextmanager
async def open_stream(
    session: aiohttp.ClientSession, base: str, probe: Probe, key: str
) -> AsyncIterator[bytes]:
    """A streamed probe held open: yields the bytes up to its first event."""
    async with session.post(base + probe.path, data=probe.body,
                            headers=probe_headers(probe, key), timeout=TIMEOUT) as response:
        received = b""
        while b"\n\n" not in received:
            chunk = await response.content.readany()
            if not chunk:
                break
            received += chunk
        yield received


async def wait_healthy(session: aiohttp.ClientSession, base: str, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        try:
            async with session.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    return True
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.2)
    return False
