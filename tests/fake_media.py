"""Fake image and embedding upstreams on 127.0.0.1, speaking the real wire formats.

One aiohttp server serves:

- OpenAI ``/v1/images/generations``: by upstream model id, ``img-url`` answers with
  URLs on this server's ``/assets/``, ``img-foreign`` with a URL on an origin no
  provider allows, ``fail500`` / ``bad400`` with errors whose body quotes the prompt,
  anything else with ``n`` base64 images (``gpt-image`` style, with token usage);
- OpenAI ``/v1/embeddings`` (float or base64, as asked) and ``/v1/chat/completions``
  for image output (OpenRouter's ``message.images`` / ``delta.images``);
- Gemini ``/v1beta/models/{id}:generateContent`` (``inlineData`` image parts) and
  ``/v1beta/models/{id}:batchEmbedContents``;
- a plain asset server: ``/assets/{name}`` (image bytes as image/png), with
  ``redirect``, ``text``, ``big``, ``medium`` (3,000 bytes), ``bomb`` (1 MiB of zeros
  sent gzip-encoded in about 1 KiB) and ``slow`` (answers after 50 ms, counting how
  many such requests were in flight at once) variants.

The image bytes are ``FakeMedia.image`` (tests put a canary pattern in them).
Every request is recorded (path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_openai import Recorded, ServerThread

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def vector_for(text: str, dims: int = 8) -> list[float]:
    """A deterministic vector for a text; exact in float32."""
    seed = sum(text.encode()) % 97
    return [float((seed + i) % 7) / 4 for i in range(dims)]


@dataclass
class FakeMedia:
    image: bytes = PNG_SIGNATURE + b"fake-image-bytes"
    requests: list[Recorded] = field(default_factory=list)
    asset_hits: int = 0
    port: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return self.origin + "/v1"

    @property
    def gemini_url(self) -> str:
        return self.origin + "/v1beta"

    def count(self, path_part: str = "") -> int:
        return sum(1 for r in self.requests if path_part in r.path)

    async def _record(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        return body

    @property
    def b64(self) -> str:
        return base64.b64encode(self.image).decode()

    async def images(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        mode, n = str(body.get("model")), int(body.get("n", 1))
        if mode in ("fail500", "bad400"):
            status = 500 if mode == "fail500" else 400
            error = {"message": f"bad prompt: {body.get('prompt')}", "code": "invalid_prompt"}
            return web.json_response({"error": error}, status=status)
        if mode == "img-url":
            data = [{"url": f"{self.origin}/assets/{i}.png"} for i in range(n)]
        elif mode == "img-foreign":
            data = [{"url": "https://cdn.elsewhere.invalid/x.png"}]
        else:
            data = [{"b64_json": self.b64, "revised_prompt": None} for _ in range(n)]
        usage = {
            "input_tokens": 20,
            "output_tokens": 1000 * n,
            "total_tokens": 20 + 1000 * n,
            "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
            "output_tokens_details": {"image_tokens": 1000 * n, "text_tokens": 0},
        }
        answer = {"created": int(time.time()), "data": data, "usage": usage}
        if mode.startswith("gpt-image"):
            answer.update(size=body.get("size", "1024x1024"), quality="high", output_format="png")
        return web.json_response(answer)

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        raw = body["input"]
        inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw
        data = []
        for index, item in enumerate(inputs):
            vector = vector_for(item if isinstance(item, str) else json.dumps(item))
            if body.get("encoding_format") == "base64":
                packed = struct.pack(f"<{len(vector)}f", *vector)
                data.append(
                    {
                        "object": "embedding",
                        "index": index,
                        "embedding": base64.b64encode(packed).decode(),
                    }
                )
            else:
                data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(str(i).split()) for i in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": list(reversed(data)),  # out of order: the gateway sorts by index
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{self.b64}"}}
        message = {"role": "assistant", "content": "here it is", "images": [image]}
        usage = {"prompt_tokens": 9, "completion_tokens": 1290, "total_tokens": 1299}
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response(_chat_envelope("chat.completion", [choice], usage))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        deltas = [{"role": "assistant", "content": "here it is"}, {"images": [image]}]
        for delta in deltas:
            choice = {"index": 0, "delta": delta, "finish_reason": None}
            await _sse(response, _chat_envelope("chat.completion.chunk", [choice]))
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        await _sse(response, _chat_envelope("chat.completion.chunk", [done], usage))
        await response.write(b"data: [DONE]\n\n")
        return response

    async def gemini(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        name = request.match_info["name"]
        if name.endswith(":batchEmbedContents"):
            values = [vector_for(r["content"]["parts"][0]["text"]) for r in body["requests"]]
            return web.json_response({"embeddings": [{"values": v} for v in values]})
        count = int(body.get("generationConfig", {}).get("candidateCount", 1))
        parts = [{"inlineData": {"mimeType": "image/png", "data": self.b64}}]
        candidates = [
            {
                "content": {"role": "model", "parts": [{"text": "Here you go."}, *parts]},
                "finishReason": "STOP",
                "index": i,
            }
            for i in range(count)
        ]
        usage = {"promptTokenCount": 12, "candidatesTokenCount": 1290 * count}
        if name.endswith(":streamGenerateContent"):
            return await self._gemini_stream(request, candidates[0], usage)
        return web.json_response({"candidates": candidates, "usageMetadata": usage})

    async def _gemini_stream(
        self, request: web.Request, candidate: dict[str, Any], usage: dict[str, Any]
    ) -> web.StreamResponse:
        """Text first, then the image part with the finish reason (as Gemini streams)."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        text, image = candidate["content"]["parts"][:2]
        events = [
            {"candidates": [{"content": {"role": "model", "parts": [text]}, "index": 0}]},
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [image]},
                        "index": 0,
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": usage,
            },
        ]
        for event in events:
            await response.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        return response

    async def asset(self, request: web.Request) -> web.StreamResponse:
        self.asset_hits += 1
        name = request.match_info["name"]
        if name == "redirect":
            raise web.HTTPFound(f"{self.origin}/assets/0.png")
        if name == "text":
            return web.Response(body=b"not an image", content_type="text/plain")
        if name == "big":
            return web.Response(body=self.image * 4096, content_type="image/png")
        if name == "medium":
            return web.Response(body=self.image.ljust(3000, b"m"), content_type="image/png")
        if name == "bomb":
            headers = {"content-encoding": "gzip"}
            body = gzip.compress(bytes(1024 * 1024))
            return web.Response(body=body, content_type="image/png", headers=headers)
        if name == "slow":
            return await self._slow()
        return web.Response(body=self.image, content_type="image/png")

    async def _slow(self) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
        finally:
            self.in_flight -= 1
        return web.Response(body=self.image, content_type="image/png")


def _chat_envelope(kind: str, choices: list[Any], usage: Any = None) -> dict[str, Any]:
    out = {"id": "gen-1", "object": kind, "created": 1700000000, "model": "x", "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out


async def _sse(response: web.StreamResponse, chunk: dict[str, Any]) -> None:
    await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")


def start_fake_media(image: bytes | None = None) -> tuple[FakeMedia, ServerThread]:
    fake = FakeMedia() if image is None else FakeMedia(image=image)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/images/generations", fake.images)
    app.router.add_post("/v1/embeddings", fake.embeddings)
    app.router.add_post("/v1/chat/completions", fake.chat)
    app.router.add_post("/v1beta/models/{name}", fake.gemini)
    app.router.add_get("/assets/{name}", fake.asset)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
