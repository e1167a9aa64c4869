"""A fake OpenAI Responses API upstream on 127.0.0.1 speaking the real wire format
(``POST /v1/responses``, the ``response`` object and its named SSE events).

Behaviour is chosen by the upstream model id, mirroring the other fakes so that the
same prompt gives the same canonical answer:

- ``ok``: echoes the last user text (``one two three echo: ...`` when streamed);
- ``tools``: two ``function_call`` items (streamed as argument deltas);
- ``custom``: a ``custom_tool_call`` of ``apply_patch`` with free-form input (streamed
  as ``response.custom_tool_call_input.delta`` events);
- ``think``: a reasoning item (``reasoning_text``) before the message;
- ``unicode``: multi-byte text whose bytes are split across network writes;
- ``nostop``: text deltas, then the stream ends without ``response.completed``;
- ``break``: two text deltas, then the connection drops;
- ``drip``: streams like ``ok``, 0.4 s between events (``disconnects`` counts the
  streams a client left);
- ``fail429`` / ``fail500`` / ``bad400``: OpenAI's error body, quoting the prompt.

Every request is recorded (path, headers, JSON body); a request with ``store`` other
than false is answered 400, as a ZDR organisation would refuse it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_openai import ServerThread

USAGE = {
    "input_tokens": 11,
    "input_tokens_details": {"cached_tokens": 3},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 18,
}
CALLS = [("call_r1", "get_weather", {"city": "Paris"}), ("call_r2", "get_time", {"tz": "CET"})]
UNICODE_TEXT = "héllo 😀 wörld ✓"
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeResponses:
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    disconnects: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def responses(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.headers), body))
        mode = str(body.get("model"))
        prompt = last_user_text(body.get("input"))
        if body.get("store") is not False:
            return _error(400, "store must be false here", "invalid_value")
        if mode.startswith("fail") or mode == "bad400":
            status = 400 if mode == "bad400" else int(mode[4:])
            return _error(status, f"problem with your prompt: {prompt}", None)
        if body.get("stream"):
            try:
                return await _stream(request, mode, prompt)
            except (asyncio.CancelledError, ConnectionResetError):
                self.disconnects += 1
                raise
        return web.json_response(response(mode, prompt, output(mode, prompt), "completed"))


def _error(status: int, message: str, code: str | None) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    headers = {"retry-after": "1"} if status == 429 else {}
    return web.json_response({"error": error}, status=status, headers=headers)


def last_user_text(items: Any) -> str:
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content if p.get("type") == "input_text")
    return ""


def response(mode: str, prompt: str, items: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": mode,
        "output": items,
        "parallel_tool_calls": True,
        "store": False,
        "tool_choice": "auto",
        "tools": [],
        "usage": USAGE if status == "completed" else None,
    }


def _message(text: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "id": "msg_fake1",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": content,
    }


def _reasoning() -> dict[str, Any]:
    return {
        "id": "rs_fake1",
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "let me think"}],
    }


def _call(n: int) -> dict[str, Any]:
    ident, name, args = CALLS[n]
    return {
        "id": f"fc_fake{n}",
        "type": "function_call",
        "status": "completed",
        "call_id": ident,
        "name": name,
        "arguments": json.dumps(args),
    }


def _custom_call() -> dict[str, Any]:
    return {
        "id": "ctc_fake0",
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "call_c0",
        "name": "apply_patch",
        "input": PATCH,
    }


def output(mode: str, prompt: str) -> list[dict[str, Any]]:
    if mode == "tools":
        return [_call(0), _call(1)]
    if mode == "custom":
        return [_custom_call()]
    text = UNICODE_TEXT if mode == "unicode" else f"echo: {prompt}"
    return ([_reasoning()] if mode == "think" else []) + [_message(text)]


def sse(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def events(mode: str, prompt: str) -> list[dict[str, Any]]:
    start = response(mode, prompt, [], "in_progress")
    out: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    index = 0
    if mode == "think":
        out += _item_events(index, _reasoning(), "reasoning_text", ["let me ", "think"])
        index += 1
    if mode == "tools":
        for n in range(2):
            out += _call_events(index + n, _call(n))
    elif mode == "custom":
        out += _custom_events(index, _custom_call())
    else:
        pieces = (
            [UNICODE_TEXT[:4], UNICODE_TEXT[4:]]
            if mode == "unicode"
            else ["one ", "two ", "three ", f"echo: {prompt}"]
        )
        out += _item_events(index, _message("".join(pieces)), "output_text", pieces)
    final = response(mode, prompt, output(mode, prompt), "completed")
    final["output"] = [e["item"] for e in out if e["type"] == "response.output_item.done"]
    out.append({"type": "response.completed", "response": final})
    return [{**e, "sequence_number": n} for n, e in enumerate(out)]


def _item_events(
    index: int, item: dict[str, Any], part: str, pieces: list[str]
) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index, "content_index": 0}
    kind = "response.output_text" if part == "output_text" else "response.reasoning_text"
    empty = {"type": part, "text": ""}
    whole = {"type": part, "text": "".join(pieces)}
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **at, "part": empty},
        *[{"type": f"{kind}.delta", **at, "delta": p} for p in pieces],
        {"type": f"{kind}.done", **at, "text": whole["text"]},
        {"type": "response.content_part.done", **at, "part": whole},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def _call_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index}
    raw = item["arguments"]
    pieces = [raw[i : i + 4] for i in range(0, len(raw), 4)]
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "arguments": ""},
        },
        *[{"type": "response.function_call_arguments.delta", **at, "delta": p} for p in pieces],
        {"type": "response.function_call_arguments.done", **at, "arguments": raw},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def _custom_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    at = {"item_id": item["id"], "output_index": index}
    raw = item["input"]
    pieces = [raw[i : i + 8] for i in range(0, len(raw), 8)]
    kind = "response.custom_tool_call_input"
    return [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "input": ""},
        },
        *[{"type": f"{kind}.delta", **at, "delta": p} for p in pieces],
        {"type": f"{kind}.done", **at, "input": raw},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


async def _stream(request: web.Request, mode: str, prompt: str) -> web.StreamResponse:
    stream = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await stream.prepare(request)
    out = events(mode, prompt)
    if mode == "nostop":
        out = out[:-1]
    deltas = 0
    for event in out:
        data = sse(event)
        if mode == "drip":
            await asyncio.sleep(0.4)
        if mode == "break" and event["type"].endswith(".delta"):
            deltas += 1
            if deltas > 2:
                request.transport.close()  # type: ignore[union-attr]
                return stream
        if mode == "unicode" and "é".encode() in data:
            cut = data.index("é".encode()) + 1  # inside the two bytes of é
            await stream.write(data[:cut])
            await asyncio.sleep(0.05)
            data = data[cut:]
        await stream.write(data)
    return stream


def start_fake_responses() -> tuple[FakeResponses, ServerThread]:
    fake = FakeResponses()
    app = web.Application()
    app.router.add_post("/v1/responses", fake.responses)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
