"""A fake Anthropic Messages upstream on 127.0.0.1 speaking the real wire format.

Behaviour is chosen by the upstream model id (``body["model"]``), mirroring
``fake_openai`` so that the same prompt gives the same canonical answer:

- ``ok``: echoes the last user text (``one two three echo: ...`` when streamed);
- ``tools``: two tool_use blocks (streamed as ``input_json_delta`` fragments);
- ``think``: a thinking block (with signature) before the text;
- ``refusal`` / ``length``: that stop reason;
- ``fail429`` / ``fail529`` / ``fail500`` / ``fail401`` / ``bad400``: Anthropic's
  error body, quoting the prompt as real providers do (429 with ``retry-after``);
- ``break``: two text deltas, then the connection drops;
- ``nostop``: text deltas, then the stream ends without ``message_delta``/``message_stop``;
- ``errorevent``: one text delta, then an ``error`` event (overloaded);
- ``unicode``: multi-byte text whose bytes are split across network writes.

Every request is recorded with its full URL, headers and JSON body.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_openai import ServerThread

USAGE = {
    "input_tokens": 6,
    "cache_read_input_tokens": 3,
    "cache_creation_input_tokens": 2,
    "output_tokens": 7,
}
TOOLS = [
    ("toolu_01", "get_weather", {"city": "Paris"}),
    ("toolu_02", "get_time", {"tz": "CET"}),
]
UNICODE_TEXT = "héllo 😀 wörld ✓"
_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Recorded:
    url: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeAnthropic:
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(str(request.url), request.path, dict(request.headers), body))
        return await self._answer(request, body)

    async def vertex(self, request: web.Request) -> web.StreamResponse:
        """Claude on Vertex: ``/models/{id}:rawPredict`` or ``:streamRawPredict``, the
        Messages body without ``model`` and with ``anthropic_version``."""
        body = await request.json()
        self.requests.append(Recorded(str(request.url), request.path, dict(request.headers), body))
        model, _, method = request.match_info["target"].partition(":")
        if "model" in body or body.get("anthropic_version") != "vertex-2023-10-16":
            return _error(400, "")
        body = {**body, "model": model, "stream": method == "streamRawPredict"}
        return await self._answer(request, body)

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        mode = str(body.get("model"))
        prompt = last_user_text(body)
        if mode.startswith("fail") or mode == "bad400":
            return _error(400 if mode == "bad400" else int(mode[4:]), prompt)
        if body.get("stream"):
            return await _stream(request, mode, prompt)
        return web.json_response(message(mode, prompt))


def last_user_text(body: dict[str, Any]) -> str:
    for turn in reversed(body.get("messages", [])):
        if turn.get("role") != "user":
            continue
        content = turn.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        if texts:
            return " ".join(texts)
    return ""


def _error(status: int, prompt: str) -> web.Response:
    body = {
        "type": "error",
        "error": {"type": _ERRORS[status], "message": f"problem with your prompt: {prompt}"},
    }
    headers = {"retry-after": "7"} if status == 429 else {}
    return web.json_response(body, status=status, headers=headers)


def _stop_reason(mode: str) -> str:
    return {"tools": "tool_use", "refusal": "refusal", "length": "max_tokens"}.get(mode, "end_turn")


def message(mode: str, prompt: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if mode == "think":
        content.append({"type": "thinking", "thinking": "let me think", "signature": "sig=="})
    if mode == "tools":
        content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in TOOLS]
    elif mode == "unicode":
        content.append({"type": "text", "text": UNICODE_TEXT})
    else:
        content.append({"type": "text", "text": f"echo: {prompt}"})
    return {
        "id": "msg_fake123",
        "type": "message",
        "role": "assistant",
        "model": mode,
        "content": content,
        "stop_reason": _stop_reason(mode),
        "stop_sequence": None,
        "usage": USAGE,
    }


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _start() -> bytes:
    start = {**message("ok", ""), "content": [], "stop_reason": None}
    start["usage"] = {**USAGE, "output_tokens": 1}
    return sse("message_start", {"type": "message_start", "message": start})


def _block(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    out = [
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
    ]
    for delta in deltas:
        out.append(
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
    out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def _text(index: int, pieces: list[str]) -> list[bytes]:
    return _block(
        index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in pieces]
    )


def events(mode: str, prompt: str) -> list[bytes]:
    out = [_start(), sse("ping", {"type": "ping"})]
    if mode == "think":
        out += _block(
            0,
            {"type": "thinking", "thinking": "", "signature": ""},
            [
                {"type": "thinking_delta", "thinking": "let me "},
                {"type": "thinking_delta", "thinking": "think"},
                {"type": "signature_delta", "signature": "sig=="},
            ],
        )
    first = 1 if mode == "think" else 0
    if mode == "tools":
        for n, (ident, name, args) in enumerate(TOOLS):
            raw = json.dumps(args)
            pieces = [raw[i : i + 3] for i in range(0, len(raw), 3)]
            block = {"type": "tool_use", "id": ident, "name": name, "input": {}}
            out += _block(
                n,
                block,
                [{"type": "input_json_delta", "partial_json": ""}]
                + [{"type": "input_json_delta", "partial_json": p} for p in pieces],
            )
    elif mode == "unicode":
        out += _text(first, [UNICODE_TEXT[:4], UNICODE_TEXT[4:]])
    else:
        out += _text(first, ["one ", "two ", "three ", f"echo: {prompt}"])
    delta = {"stop_reason": _stop_reason(mode), "stop_sequence": None}
    out.append(
        sse(
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 7}},
        )
    )
    out.append(sse("message_stop", {"type": "message_stop"}))
    return out


async def _stream(request: web.Request, mode: str, prompt: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    out = events(mode, prompt)
    if mode == "nostop":
        out = out[:-2]
    for number, event in enumerate(out):
        data = event
        if mode == "break" and number == 5:
            request.transport.close()  # type: ignore[union-attr]
            return response
        if mode == "errorevent" and number == 4:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": prompt}}
            await response.write(sse("error", error))
            return response
        if mode == "unicode" and "é".encode() in data:
            cut = data.index("é".encode()) + 1  # inside the two bytes of é
            await response.write(data[:cut])
            await asyncio.sleep(0.05)
            data = data[cut:]
        await response.write(data)
    return response


def start_fake_anthropic() -> tuple[FakeAnthropic, ServerThread]:
    fake = FakeAnthropic()
    app = web.Application()
    app.router.add_post("/v1/messages", fake.messages)
    app.router.add_post("/v1/vertex/models/{target}", fake.vertex)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
