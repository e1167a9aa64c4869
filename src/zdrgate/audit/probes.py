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
    key_header: bytes = b"authorization"  # or b"x-api-key"; SESSION: the web app's way
    expect: int = 200  # the status that shows the probe took its path (else: a problem)


SESSION = b"session"  # signed in at /auth/login with the key: cookie + X-CSRF-Token


@dataclass(slots=True)
class ProbeResult:
    name: str
    status: int
    body_bytes: int = 0
    events: list[str] = field(default_factory=list)
    expect: int = 200


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
        for proto in ("openai", "anthropic", "gemini", "azure-openai", "bedrock")
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
        Probe("upstream 400 echoing the prompt", chat, _chat("audit/error", canary),
              expect=400),
        Probe("upstream 400 echoing the prompt, stream", chat,
              _chat("audit/error", canary, stream=True), expect=400),
        Probe("upstream 500 echoing the prompt", chat, _chat("audit/crash", canary),
              expect=502),
        Probe("upstream dies mid-stream", chat, _chat("audit/die", canary, stream=True)),
        Probe("client disconnects mid-stream", chat, _chat("audit/openai", canary, stream=True),
              disconnect_after=1),
        Probe("invalid JSON quoting the prompt", chat, f'{{"model": "{canary}", '.encode(),
              expect=400),
        Probe("unknown field named after the prompt", chat,
              _chat("audit/openai", canary, **{canary: 1}), expect=400),
        Probe("unknown model named after the prompt", chat,
              _chat(f"nobody/{canary}", canary), expect=404),
        # The web app's chat: the same /v1 routes, signed in by a session cookie.
        Probe("web chat stream (session)", chat,
              _chat("audit/openai", canary, stream=True), key_header=SESSION),
        Probe("web chat image (session)", "/v1/images/generations",
              orjson.dumps({"model": "audit/image", "prompt": f"draw {canary}"}),
              key_header=SESSION),
    ]
    return found


def auth_headers(probe: Probe, key: str, session: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """How the probe's client authenticates: a bearer key, ``x-api-key``, or the web
    app's session cookie and CSRF token (``session``: what /auth/login answered)."""
    if probe.key_header == SESSION:
        return [(b"cookie", f"zdr_session={session['cookie']}".encode()),
                (b"x-csrf-token", session["csrf_token"].encode())]
    value = f"Bearer {key}" if probe.key_header == b"authorization" else key
    return [(probe.key_header, value.encode()), (b"cookie", b"session=audit")]


def session_of(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, str]:
    """The cookie value and CSRF token of a successful /auth/login answer."""
    if status != 200:
        raise RuntimeError(f"the audit could not sign in to the web app ({status})")
    cookies = [v.decode("latin-1") for k, v in headers if k.lower() == b"set-cookie"]
    value = next(c.split(";", 1)[0].split("=", 1)[1] for c in cookies
                 if c.startswith("zdr_session="))
    return {"cookie": value, "csrf_token": str(orjson.loads(body)["csrf_token"])}


async def asgi_exchange(
    app: ASGIApp, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One whole POST to the app in-process: (status, headers, body)."""
    answer: dict[str, Any] = {"status": 0, "headers": [], "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(_scope(path, [(b"content-type", b"application/json"),
                            (b"host", b"audit.invalid"), *headers]), receive, send)
    return answer["status"], answer["headers"], answer["body"]


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80)}


async def send_probe(app: ASGIApp, probe: Probe, key: str) -> ProbeResult:
    session: dict[str, str] = {}
    if probe.key_header == SESSION:
        login = orjson.dumps({"api_key": key})
        session = session_of(*await asgi_exchange(app, "/auth/login", login, []))
    result = ProbeResult(probe.name, 0, expect=probe.expect)
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

    headers = [(b"content-type", b"application/json"), (b"host", b"audit.invalid"),
               *auth_headers(probe, key, session), *probe.headers]
    try:
        await app(_scope(probe.path, headers), receive, send)
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


chat_body = _chat  # a chat probe's body, for the senders in other modules
