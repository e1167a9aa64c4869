"""A fake Gemini API (Google AI Studio) upstream on 127.0.0.1, real wire format.

``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``. Behaviour is chosen by the model in the path,
mirroring ``fake_openai``:

- ``ok``: echoes the last user text (``one two three echo: ...`` when streamed);
- ``tools``: two ``functionCall`` parts (no ids, as Gemini sends them);
- ``think``: a thought part before the text;
- ``blocked``: ``promptFeedback.blockReason`` and no candidates;
- ``safety`` / ``length``: finishReason SAFETY / MAX_TOKENS;
- ``fail429`` / ``fail503`` / ``fail500`` / ``bad400`` / ``badkey``: Google's error
  body quoting the prompt (429 with a RetryInfo; ``badkey`` is the 400 API_KEY_INVALID);
- ``break``: two chunks, then the connection drops;
- ``nostop``: chunks without any finishReason;
- ``unicode``: multi-byte text whose bytes are split across network writes.

Every request is recorded with its full URL (query included), headers and body.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_openai import ServerThread

UNICODE_TEXT = "héllo 😀 wörld ✓"
_STATUS = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Recorded:
    url: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str:
        return self.path.rsplit("/", 1)[-1].split(":", 1)[0]


@dataclass
class FakeGemini:
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta"

    async def generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record = Recorded(str(request.url), request.path, dict(request.headers), body)
        self.requests.append(record)
        mode, method = request.match_info["tail"].split(":", 1)
        prompt = last_user_text(body)
        if mode.startswith("fail") or mode in ("bad400", "badkey"):
            return _error(mode, prompt)
        if method == "streamGenerateContent":
            return await _stream(request, mode, prompt)
        return web.json_response(response(mode, prompt))


def last_user_text(body: dict[str, Any]) -> str:
    for turn in reversed(body.get("contents", [])):
        texts = [p["text"] for p in turn.get("parts", []) if "text" in p]
        if turn.get("role") == "user" and texts:
            return " ".join(texts)
    return ""


def _error(mode: str, prompt: str) -> web.Response:
    status = 400 if mode in ("bad400", "badkey") else int(mode[4:])
    error: dict[str, Any] = {
        "code": status,
        "message": f"problem with your prompt: {prompt}",
        "status": _STATUS[status],
    }
    if mode == "badkey":
        error["message"] = "API key not valid. Please pass a valid API key."
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
        ]
    if status == 429:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
        ]
    return web.json_response({"error": error}, status=status)


def usage(thoughts: int = 0) -> dict[str, Any]:
    out = {
        "promptTokenCount": 11,
        "candidatesTokenCount": 7 - thoughts,
        "totalTokenCount": 18,
        "cachedContentTokenCount": 3,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    return out


def _finish(mode: str) -> str:
    return {"safety": "SAFETY", "length": "MAX_TOKENS"}.get(mode, "STOP")


def _parts(mode: str, texts: list[str]) -> list[dict[str, Any]]:
    if mode == "tools":
        return [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "c2ln",
            },
            {"functionCall": {"name": "get_time", "args": {"tz": "CET"}}},
        ]
    return [{"text": t} for t in texts]


def response(mode: str, prompt: str) -> dict[str, Any]:
    if mode == "blocked":
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage()}
    text = UNICODE_TEXT if mode == "unicode" else f"echo: {prompt}"
    parts = _parts(mode, [text])
    if mode == "think":
        parts.insert(0, {"text": "let me think", "thought": True})
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": _finish(mode),
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage(2 if mode == "think" else 0),
        "modelVersion": mode,
        "responseId": "resp-fake123",
    }


def chunks(mode: str, prompt: str) -> list[dict[str, Any]]:
    if mode == "blocked":
        return [response(mode, prompt)]
    texts = ["one ", "two ", "three ", f"echo: {prompt}"]
    if mode == "unicode":
        texts = [UNICODE_TEXT[:4], UNICODE_TEXT[4:]]
    pieces = [[p] for p in _parts(mode, texts)]
    if mode == "think":
        pieces.insert(0, [{"text": "let me think", "thought": True}])
    out = []
    for n, parts in enumerate(pieces):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if n == len(pieces) - 1 and mode != "nostop":
            candidate["finishReason"] = _finish(mode)
        out.append(
            {
                "candidates": [candidate],
                "usageMetadata": usage(2 if mode == "think" else 0),
                "responseId": "resp-fake123",
            }
        )
    return out


async def _stream(request: web.Request, mode: str, prompt: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for number, chunk in enumerate(chunks(mode, prompt)):
        if mode == "break" and number == 2:
            request.transport.close()  # type: ignore[union-attr]
            return response
        data = b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\r\n\r\n"
        if mode == "unicode" and "é".encode() in data:
            cut = data.index("é".encode()) + 1  # inside the two bytes of é
            await response.write(data[:cut])
            await asyncio.sleep(0.05)
            data = data[cut:]
        await response.write(data)
    return response


def start_fake_gemini() -> tuple[FakeGemini, ServerThread]:
    fake = FakeGemini()
    app = web.Application()
    app.router.add_post("/v1beta/models/{tail}", fake.generate)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
