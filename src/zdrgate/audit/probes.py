"""The audit's requests: every route and mode, each carrying the canary, sent to the
gateway's ASGI app in-process (no socket between the audit and the gateway; the
gateway itself calls the loopback fakes through its real dispatcher).

Usage::

    async with running(app):
        results = [await send_probe(app, probe, key) for probe in probes(canary)]
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

from zdrgate.audit.fakes import PNG_1PX


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    path: str
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    disconnect_after: int | None = None  # body parts received before the client leaves
    key_header: bytes = b"authorization"


@dataclass(slots=True)
class ProbeResult:
    name: str
    status: int
    body_bytes: int = 0
    events: list[str] = field(default_factory=list)


def _chat(model: str, canary: str, **extra: Any) -> bytes:
    message = {"role": "user", "content": f"audit prompt {canary}"}
    return orjson.dumps({"model": model, "messages": [message], "user": canary,
                         "metadata": {"note": canary}, **extra})


def probes(canary: str) -> list[Probe]:
    tool = {"type": "function", "function": {
        "name": "lookup", "description": f"looks up {canary}",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}
    image = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    vision = orjson.dumps({"model": "audit/openai", "messages": [{"role": "user", "content": [
        {"type": "text", "text": f"describe {canary}"},
        {"type": "image_url", "image_url": {"url": image}}]}]})
    messages = {"model": "audit/anthropic", "max_tokens": 32, "metadata": {"user_id": canary},
                "messages": [{"role": "user", "content": f"audit prompt {canary}"}]}
    chat = "/v1/chat/completions"
    found = [
        Probe(f"chat {proto}{' stream' if stream else ''}", chat,
              _chat(f"audit/{proto}", canary, stream=stream))
        for proto in ("openai", "anthropic", "gemini", "azure-openai")
        for stream in (False, True)
    ]
    found += [
        Probe("chat tools", chat, _chat("audit/openai", canary, tools=[tool])),
        Probe("chat vision", chat, vision),
        Probe("messages", "/v1/messages", orjson.dumps(messages), key_header=b"x-api-key"),
        Probe("messages stream", "/v1/messages", orjson.dumps({**messages, "stream": True}),
              key_header=b"x-api-key"),
        Probe("images", "/v1/images/generations",
              orjson.dumps({"model": "audit/image", "prompt": f"paint {canary}", "user": canary})),
        Probe("embeddings", "/v1/embeddings",
              orjson.dumps({"model": "audit/embed", "input": [canary, f"again {canary}"]})),
        Probe("upstream 400 echoing the prompt", chat, _chat("audit/error", canary)),
        Probe("upstream 400 echoing the prompt, stream", chat,
              _chat("audit/error", canary, stream=True)),
        Probe("upstream 500 echoing the prompt", chat, _chat("audit/crash", canary)),
        Probe("upstream dies mid-stream", chat, _chat("audit/die", canary, stream=True)),
        Probe("client disconnects mid-stream", chat, _chat("audit/openai", canary, stream=True),
              disconnect_after=1),
        Probe("invalid JSON quoting the prompt", chat, f'{{"model": "{canary}", '.encode()),
        Probe("unknown field named after the prompt", chat,
              _chat("audit/openai", canary, **{canary: 1})),
        Probe("unknown model named after the prompt", chat, _chat(f"nobody/{canary}", canary)),
    ]
    return found


async def send_probe(app: ASGIApp, probe: Probe, key: str) -> ProbeResult:
    result = ProbeResult(probe.name, 0)
    left = asyncio.Event()
    sent_request = False

    async def receive() -> Message:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": probe.body, "more_body": False}
        await left.wait()
        return {"type": "http.disconnect"}

    parts = 0

    async def send(message: Message) -> None:
        nonlocal parts
        if message["type"] == "http.response.start":
            result.status = message["status"]
        elif message["type"] == "http.response.body":
            parts += 1
            result.body_bytes += len(message.get("body", b""))
            if probe.disconnect_after is not None and parts >= probe.disconnect_after:
                left.set()

    value = f"Bearer {key}" if probe.key_header == b"authorization" else key
    headers = [(b"content-type", b"application/json"), (b"host", b"audit.invalid"),
               (probe.key_header, value.encode()), (b"cookie", b"session=audit"), *probe.headers]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": probe.path,
             "raw_path": probe.path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80)}
    try:
        await app(scope, receive, send)
    finally:
        left.set()
    return result


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[None]:
    """Run the app's lifespan (start-up before, shutdown after)."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the gateway did not start: {started.get('message', '')}")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task
