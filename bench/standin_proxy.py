"""A trivial OpenAI-compatible pass-through proxy (aiohttp server + pooled aiohttp client).

It exists to prove ``bench/run.py --gateway-cmd`` works before the real gateway
does, and as a floor: a gateway doing real work should cost a bit more than this.
It maps ``bench/<x>`` model names to the upstream's ``echo-1``/``echo-slow``.

  python bench/standin_proxy.py --port 8081 --upstream http://127.0.0.1:18080/v1
"""

from __future__ import annotations

import argparse

import orjson
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

MODEL_MAP = {"bench/echo": "echo-1", "bench/slow": "echo-slow"}


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    body["model"] = MODEL_MAP.get(body.get("model"), body.get("model"))
    session: ClientSession = request.app["session"]
    async with session.post(
        request.app["upstream"] + "/chat/completions", data=orjson.dumps(body),
        headers={"Authorization": "Bearer bench-upstream-key",
                 "Content-Type": "application/json"},
    ) as up:
        if not body.get("stream"):
            return web.Response(body=await up.read(), status=up.status,
                                content_type="application/json")
        resp = web.StreamResponse(status=up.status,
                                  headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        async for piece in up.content.iter_any():
            await resp.write(piece)
        await resp.write_eof()
        return resp


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def on_startup(app: web.Application) -> None:
    # limit=0: the many-streams test needs one upstream connection per open stream.
    app["session"] = ClientSession(connector=TCPConnector(limit=0),
                                   timeout=ClientTimeout(total=None))


async def on_cleanup(app: web.Application) -> None:
    await app["session"].close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:18080/v1")
    args = p.parse_args()
    app = web.Application()
    app["upstream"] = args.upstream.rstrip("/")
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/healthz", healthz)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None,
                backlog=8192)


if __name__ == "__main__":
    main()
