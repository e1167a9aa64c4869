"""A fake OpenAI-protocol upstream on 127.0.0.1 that speaks the real wire format.

Its behaviour is chosen by the upstream model id the gateway sends:

- ``ok``: a chat.completion echoing the last user message (so content flows back);
- ``tools``: a response with two tool calls (streamed as split argument deltas);
- ``fail500`` / ``fail503`` / ``fail429`` / ``fail401``: that error, body quoting the prompt;
- ``bad400``: a 400 whose body quotes the prompt (as real providers do);
- ``break``: streams two chunks, then drops the connection;
- ``slow``: streams one chunk, then waits (for disconnect tests); ``hang``: never answers;
- ``late``: like ``ok`` after half a second; ``drip``: streams like ``ok``, 0.4 s between chunks;
- ``long``: like ``ok``, with a usage of 8,000 completion tokens (a long answer's bill).

Every request is recorded (path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    requests: list[Recorded] = field(default_factory=list)
    disconnects: int = 0
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def count(self, upstream_id: str | None = None) -> int:
        return sum(1 for r in self.requests if upstream_id in (None, r.body.get("model")))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        mode = str(body.get("model"))
        prompt = _last_user_text(body)
        if mode.startswith("fail") or mode == "bad400":
            status = 400 if mode == "bad400" else int(mode[4:])
            headers = {"retry-after": "1"} if status == 429 else {}
            error = {
                "message": f"problem with your prompt: {prompt}",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded" if status == 400 else None,
            }
            return web.json_response({"error": error}, status=status, headers=headers)
        if mode == "hang":
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.disconnects += 1
                raise
        if mode == "late":
            await asyncio.sleep(0.5)
        if body.get("stream"):
            return await self._stream(request, body, mode, prompt)
        return web.json_response(_completion(body, mode, prompt))

    async def _stream(
        self, request: web.Request, body: dict[str, Any], mode: str, prompt: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            for chunk in _chunks(body, mode, prompt):
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                if (
                    mode == "break"
                    and chunk["choices"]
                    and chunk["choices"][0]["delta"].get("content") == "two "
                ):
                    request.transport.close()  # type: ignore[union-attr]
                    return response
                if mode == "slow":
                    await asyncio.sleep(3600)
                if mode == "drip":
                    await asyncio.sleep(0.4)
            await response.write(b"data: [DONE]\n\n")
        except (asyncio.CancelledError, ConnectionResetError):
            self.disconnects += 1
            raise
        return response


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


def _tool_calls() -> list[dict[str, Any]]:
    return [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
        },
    ]


def _completion(body: dict[str, Any], mode: str, prompt: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": f"echo: {prompt}", "refusal": None}
    finish = "stop"
    if mode == "tools":
        message = {"role": "assistant", "content": None, "tool_calls": _tool_calls()}
        finish = "tool_calls"
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": mode,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": LONG_USAGE if mode == "long" else USAGE,
    }


USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
LONG_USAGE = {"prompt_tokens": 11, "completion_tokens": 8000, "total_tokens": 8011}


def _chunk(mode: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": mode,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _chunks(body: dict[str, Any], mode: str, prompt: str) -> list[dict[str, Any]]:
    chunks = [_chunk(mode, {"role": "assistant", "content": ""})]
    if mode == "tools":
        for index, call in enumerate(_tool_calls()):
            args = call["function"]["arguments"]
            chunks.append(
                _chunk(
                    mode,
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["function"]["name"], "arguments": ""},
                            }
                        ]
                    },
                )
            )
            for start in range(0, len(args), 5):
                chunks.append(
                    _chunk(
                        mode,
                        {
                            "tool_calls": [
                                {"index": index, "function": {"arguments": args[start : start + 5]}}
                            ]
                        },
                    )
                )
        chunks.append(_chunk(mode, {}, "tool_calls"))
    else:
        for word in ["one ", "two ", "three ", f"echo: {prompt}"]:
            chunks.append(_chunk(mode, {"content": word}))
        chunks.append(_chunk(mode, {}, "stop"))
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append(
            {
                "id": "chatcmpl-fake123",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": mode,
                "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )
    return chunks


class ServerThread:
    """Runs an aiohttp app on 127.0.0.1 in a thread with its own loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> int:
        self._thread.start()
        self._ready.wait(10)
        return self.port

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(
            self.app, handle_signals=False, shutdown_timeout=0.2, handler_cancellation=True
        )
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def start_fake_openai() -> tuple[FakeOpenAI, ServerThread]:
    fake = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.chat)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
