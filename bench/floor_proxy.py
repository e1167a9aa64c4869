"""The floor for zdrgate's parts: a bare ASGI proxy on uvicorn (httptools, uvloop).

No auth, no policy, no validation: it parses the JSON body, renames the model and
forwards it with the chosen client, so the gap between clients is the client's cost.

  --client none     answer a fixed completion without any upstream call (server cost)
  --client aiohttp  pooled aiohttp ClientSession
  --client http1    zdrgate's own pooled client (zdrgate.upstream.http1)

  python bench/run.py --quick --gateway-label floor-http1 --gateway-cmd \\
    "{python} bench/floor_proxy.py --port {port} --upstream {upstream_url} --client http1"
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import uvicorn

from zdrgate.upstream import http1

MODEL_MAP = {"bench/echo": "echo-1", "bench/slow": "echo-slow"}
HEADERS = {"authorization": "Bearer bench-upstream-key", "content-type": "application/json"}
FIXED = orjson.dumps({
    "id": "chatcmpl-floor", "object": "chat.completion", "created": 0, "model": "echo-1",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
})
Send = Callable[[dict[str, Any]], Awaitable[None]]
Forward = Callable[[bytes], AsyncIterator[tuple[int, bytes]]]


def aiohttp_forward(base: str) -> Forward:
    session: aiohttp.ClientSession | None = None

    async def forward(body: bytes) -> AsyncIterator[tuple[int, bytes]]:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        async with session.post(base + "/chat/completions", data=body, headers=HEADERS) as up:
            async for data in up.content.iter_any():
                yield up.status, data

    return forward


def http1_forward(base: str) -> Forward:
    client = http1.Client()
    url = urlsplit(base)
    origin = http1.Origin(url.scheme, url.hostname or "", url.port or 80)
    target = url.path + "/chat/completions"

    async def forward(body: bytes) -> AsyncIterator[tuple[int, bytes]]:
        conn, response = await client.request(origin, "POST", target, HEADERS.items(), body)
        try:
            async for data in response.iter_chunks():
                yield response.status, data
        finally:
            client.release(origin, conn)

    return forward


async def fixed_forward(body: bytes) -> AsyncIterator[tuple[int, bytes]]:
    yield 200, FIXED


def make_app(forward: Forward) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        request = orjson.loads(body)
        request["model"] = MODEL_MAP.get(request.get("model"), request.get("model"))
        content_type = b"text/event-stream" if request.get("stream") else b"application/json"
        started = False
        async for status, data in forward(orjson.dumps(request)):
            if not started:
                started = True
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", content_type)]})
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:18080/v1")
    p.add_argument("--client", choices=("none", "aiohttp", "http1"), default="http1")
    args = p.parse_args()
    base = args.upstream.rstrip("/")
    forward = {"none": lambda _: fixed_forward, "aiohttp": aiohttp_forward,
               "http1": http1_forward}[args.client](base)
    uvicorn.run(make_app(forward), host="127.0.0.1", port=args.port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False, lifespan="off",
                backlog=8192)


if __name__ == "__main__":
    main()
