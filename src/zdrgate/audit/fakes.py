"""Built-in loopback fakes of the upstream wire protocols, for ``zdrgate audit``.

One ASGI app speaks OpenAI chat (plain and SSE), images and embeddings, Anthropic
Messages (plain and SSE), Gemini ``generateContent`` (plain and SSE) and Bedrock
Converse (plain, and ConverseStream's AWS event-stream frames). Each echoes
the prompt back (so the canary travels the response path too). The upstream model id
picks a behaviour: ``echo``; ``error-echo`` (a 400 whose body quotes the prompt, as
real providers do); ``crash-echo`` (a 500 quoting it); ``die`` (a stream cut after its
first event); ``hold`` (a stream that stops after its first event until the caller
leaves, for the crash probe). Served by uvicorn on 127.0.0.1 on a free port.

Usage::

    async with serve_fakes() as base_url:      # "http://127.0.0.1:PORT/v1"
        ...
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import uvicorn
from starlette.types import Receive, Scope, Send

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
JSONH = [(b"content-type", b"application/json")]
SSEH = [(b"content-type", b"text/event-stream")]


def _text_of(body: dict[str, Any]) -> str:
    """Every string in the request, joined: the prompt, wherever a protocol puts it."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body.get("messages") or body.get("contents") or body.get("prompt") or body.get("input"))
    return " ".join(found)[:2000]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = orjson.loads(await _read(receive) or b"{}")
    path: str = scope["path"]
    model = _model_of(body, path)
    echo = _text_of(body)
    if model.startswith("error-echo") or model.startswith("crash-echo"):
        status = 400 if model.startswith("error") else 500
        error = {"error": {"message": f"cannot process: {echo}", "type": "invalid_request_error"}}
        await _json(send, error, status)
    elif path.endswith("/chat/completions") and model.startswith("hold"):
        await _hold(send, receive, model, echo)
    elif path.endswith("/chat/completions"):
        await _openai_chat(send, model, echo, bool(body.get("stream")))
    elif path.endswith("/messages"):
        await _anthropic(send, model, echo, bool(body.get("stream")))
    elif ":generateContent" in path or ":streamGenerateContent" in path:
        await _gemini(send, model, echo, "stream" in path)
    elif "/model/" in path:
        await _bedrock(send, model, echo, path.endswith("/converse-stream"))
    elif path.endswith("/images/generations"):
        await _json(send, {"created": 0, "data": [
            {"b64_json": base64.b64encode(PNG_1PX).decode(), "revised_prompt": echo}]})
    elif path.endswith("/embeddings"):
        await _json(send, _embeddings(model, body))
    else:
        await _json(send, {"error": {"message": "no such route"}}, 404)


async def _read(receive: Receive) -> bytes:
    raw = b""
    while True:
        message = await receive()
        raw += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return raw


def _model_of(body: dict[str, Any], path: str) -> str:
    if "/model/" in path:  # Bedrock: /model/{modelId}/converse[-stream]
        return path.split("/model/", 1)[1].split("/", 1)[0]
    return str(body.get("model") or path.rsplit("/", 1)[-1].split(":", 1)[0])


async def _json(send: Send, content: Any, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSONH})
    await send({"type": "http.response.body", "body": orjson.dumps(content)})


async def _sse(send: Send, events: list[bytes], die: bool) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": SSEH})
    for index, event in enumerate(events):
        await send({"type": "http.response.body", "body": event, "more_body": True})
        if die and index == 0:
            raise ConnectionAbortedError("fake upstream dies mid-stream")  # cuts the stream
    await send({"type": "http.response.body", "body": b""})


def _data(obj: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


async def _openai_chat(send: Send, model: str, echo: str, stream: bool) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    if not stream:
        message = {"role": "assistant", "content": f"echo: {echo}"}
        await _json(send, {"id": "chatcmpl-audit", "object": "chat.completion", "created": 0,
                           "model": model, "usage": usage, "choices": [
                               {"index": 0, "message": message, "finish_reason": "stop"}]})
        return
    chunk = {"id": "chatcmpl-audit", "object": "chat.completion.chunk", "created": 0,
             "model": model}
    events = [
        _data({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                           "content": f"echo: {echo}"}}]}),
        _data({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
               "usage": usage}),
        b"data: [DONE]\n\n",
    ]
    await _sse(send, events, model.startswith("die"))


HOLD_SECONDS = 120.0


async def _hold(send: Send, receive: Receive, model: str, echo: str) -> None:
    """One event quoting the prompt, then nothing until the caller goes away."""
    chunk = {"id": "chatcmpl-audit", "object": "chat.completion.chunk", "created": 0,
             "model": model, "choices": [{"index": 0, "delta": {
                 "role": "assistant", "content": f"echo: {echo}"}}]}
    await send({"type": "http.response.start", "status": 200, "headers": SSEH})
    await send({"type": "http.response.body", "body": _data(chunk), "more_body": True})
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(HOLD_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass


async def _anthropic(send: Send, model: str, echo: str, stream: bool) -> None:
    usage = {"input_tokens": 3, "output_tokens": 3}
    message = {"id": "msg_audit", "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": f"echo: {echo}"}],
               "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
    if not stream:
        await _json(send, message)
        return
    events = [
        _data({"type": "message_start", "message": {**message, "content": [],
                                                    "stop_reason": None}}, "message_start"),
        _data({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}, "content_block_start"),
        _data({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": f"echo: {echo}"}}, "content_block_delta"),
        _data({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _data({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": 3}}, "message_delta"),
        _data({"type": "message_stop"}, "message_stop"),
    ]
    await _sse(send, events, model.startswith("die"))


async def _gemini(send: Send, model: str, echo: str, stream: bool) -> None:
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": f"echo: {echo}"}]},
                              "finishReason": "STOP", "index": 0}],
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 3,
                                "totalTokenCount": 6}}
    if stream:
        await _sse(send, [_data(answer)], model.startswith("die"))
    else:
        await _json(send, answer)


async def _bedrock(send: Send, model: str, echo: str, stream: bool) -> None:
    usage = {"inputTokens": 3, "outputTokens": 3, "totalTokens": 6}
    if not stream:
        message = {"role": "assistant", "content": [{"text": f"echo: {echo}"}]}
        await _json(send, {"output": {"message": message}, "stopReason": "end_turn",
                           "usage": usage})
        return
    frames = [
        _frame("messageStart", {"role": "assistant"}),
        _frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"echo: {echo}"}}),
        _frame("contentBlockStop", {"contentBlockIndex": 0}),
        _frame("messageStop", {"stopReason": "end_turn"}),
        _frame("metadata", {"usage": usage}),
    ]
    headers = [(b"content-type", b"application/vnd.amazon.eventstream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index, frame in enumerate(frames):
        await send({"type": "http.response.body", "body": frame, "more_body": True})
        if model.startswith("die") and index == 0:
            raise ConnectionAbortedError("fake upstream dies mid-stream")
    await send({"type": "http.response.body", "body": b""})


def _frame(event: str, payload: Any) -> bytes:
    """One AWS event-stream message: prelude and its CRC32, string headers, payload, CRC32."""
    block = b""
    for name, value in ((":event-type", event), (":message-type", "event"),
                        (":content-type", "application/json")):
        block += bytes([len(name)]) + name.encode() + b"\x07"
        block += struct.pack(">H", len(value)) + value.encode()
    data = orjson.dumps(payload)
    prelude = struct.pack(">II", 16 + len(block) + len(data), len(block))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + block + data
    return message + struct.pack(">I", zlib.crc32(message))


def _embeddings(model: str, body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    count = len(inputs) if isinstance(inputs, list) else 1
    vector = [0.25, -0.5, 0.75]
    encoded: Any = vector
    if body.get("encoding_format") == "base64":
        encoded = base64.b64encode(struct.pack("<3f", *vector)).decode()
    return {"object": "list", "model": model, "usage": {"prompt_tokens": 1, "total_tokens": 1},
            "data": [{"object": "embedding", "index": i, "embedding": encoded}
                     for i in range(count)]}


@asynccontextmanager
async def serve_fakes(port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
    config = uvicorn.Config(app, host=host, port=port, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        await task
