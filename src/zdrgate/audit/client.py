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

from zdrgate.audit.probes import SESSION, Probe, ProbeResult, auth_headers, session_of

TIMEOUT = aiohttp.ClientTimeout(total=120, sock_read=60)


async def probe_headers(
    session: aiohttp.ClientSession, base: str, probe: Probe, key: str
) -> dict[str, str]:
    signed_in: dict[str, str] = {}
    if probe.key_header == SESSION:
        async with session.post(base + "/auth/login", json={"api_key": key},
                                timeout=TIMEOUT) as answer:
            raw = [(k, v) for k, v in answer.raw_headers]
            signed_in = session_of(answer.status, raw, await answer.read())
    headers = {"content-type": "application/json"}
    for name, value in [*auth_headers(probe, key, signed_in), *probe.headers]:
        headers[name.decode()] = value.decode()
    return headers


async def post_probe(
    session: aiohttp.ClientSession, base: str, probe: Probe, key: str
) -> ProbeResult:
    """Send one probe and read its answer (all of it, or ``disconnect_after`` body
    parts, then drop the connection as a client that leaves would)."""
    result = ProbeResult(probe.name, 0, expect=probe.expect)
    try:
        headers = await probe_headers(session, base, probe, key)
        async with session.post(base + probe.path, data=probe.body,
                                headers=headers, timeout=TIMEOUT) as response:
            result.status = response.status
            parts = 0
            async for chunk in response.content.iter_any():
                parts += 1
                result.body_bytes += len(chunk)
                if probe.disconnect_after is not None and parts >= probe.disconnect_after:
                    response.close()  # closes the connection, not just this response
                    break
    except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
        result.events.append(f"failed: {type(exc).__name__}")
    return result


@asynccontextmanager
async def open_stream(
    session: aiohttp.ClientSession, base: str, probe: Probe, key: str
) -> AsyncIterator[bytes]:
    """A streamed probe held open: yields the bytes up to its first event."""
    headers = await probe_headers(session, base, probe, key)
    async with session.post(base + probe.path, data=probe.body,
                            headers=headers, timeout=TIMEOUT) as response:
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
