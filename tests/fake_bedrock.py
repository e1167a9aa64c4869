"""A fake AWS Bedrock runtime on 127.0.0.1 speaking the real wire format.

``POST /model/{modelId}/converse`` answers Converse JSON; ``/converse-stream`` answers
an AWS event stream (binary frames with their prelude and message CRC32s, written
here independently of the gateway's decoder). Errors carry ``x-amzn-ErrorType`` and a
``{"message": ...}`` body quoting the prompt, as AWS's do.

Every call must be authenticated as AWS checks it: either the Bedrock API key as a
bearer token, or a SigV4 signature that this fake recomputes from the request it
received (canonical request over the raw path, the signed headers and the body's
SHA-256; the key derived from the secret, day, Region and ``bedrock``). Anything else
is a 403 ``UnrecognizedClientException`` / ``InvalidSignatureException``.

Behaviour is chosen by the model id, as in ``fake_anthropic``: ``ok`` (echo),
``tools``, ``think``, ``unicode`` (a frame split inside a UTF-8 sequence), ``nostop``
(no messageStop), ``break`` (connection dropped mid-stream), ``fail429`` (throttled),
``fail500``, ``fail503``, ``bad400`` (ValidationException), ``throttle-stream`` (a
``throttlingException`` event after the first delta), ``badcrc`` (a frame with a
wrong message CRC), ``image`` (echoes the images it got: format and byte count).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

from fake_openai import ServerThread

BEARER = "upstream-key"
ACCESS_KEY = "AKIDFAKEBEDROCK"
SECRET_KEY = "fake/secret+key"
SESSION_TOKEN = "fake-session-token"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
}
USAGE = {
    "inputTokens": 6,
    "cacheReadInputTokens": 3,
    "cacheWriteInputTokens": 2,
    "outputTokens": 7,
    "totalTokens": 18,
}
TOOLS = [
    ("tooluse_01", "get_weather", {"city": "Paris"}),
    ("tooluse_02", "get_time", {"tz": "CET"}),
]
UNICODE_TEXT = "héllo 😀 wörld ✓"
ERRORS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    auth: str  # "bearer" or "sigv4"


@dataclass
class FakeBedrock:
    region: str = "us-east-1"
    host: str = ""  # the Host the gateway meant, when a test transport redirected it here
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def converse(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        auth = self.authenticated(request, raw)
        if auth is None:
            return error_response(403, "", "InvalidSignatureException")
        body = json.loads(raw)
        self.requests.append(Recorded(request.path, dict(request.headers), body, auth))
        mode = request.match_info["model"]
        prompt = last_user_text(body)
        if mode.startswith("fail") or mode == "bad400":
            return error_response(400 if mode == "bad400" else int(mode[4:]), prompt)
        if request.match_info["method"] == "converse-stream":
            return await stream(request, mode, prompt, body)
        if request.match_info["method"] != "converse":
            return error_response(404, "", "UnknownOperationException")
        return web.json_response(converse_answer(mode, prompt, body))

    def authenticated(self, request: web.Request, body: bytes) -> str | None:
        header = request.headers.get("authorization", "")
        if header == f"Bearer {BEARER}":
            return "bearer"
        if header.startswith("AWS4-HMAC-SHA256 ") and self._signature_ok(request, body):
            return "sigv4"
        return None

    def _signature_ok(self, request: web.Request, body: bytes) -> bool:
        fields = dict(
            part.strip().split("=", 1) for part in request.headers["authorization"][17:].split(",")
        )
        key_id, day, region, service, end = fields["Credential"].split("/")
        stamp = request.headers.get("x-amz-date", "")
        if (key_id, region, service, end) != (ACCESS_KEY, self.region, "bedrock", "aws4_request"):
            return False
        if request.headers.get("x-amz-security-token") != SESSION_TOKEN or stamp[:8] != day:
            return False
        names = fields["SignedHeaders"].split(";")
        if not {"host", "x-amz-date", "x-amz-security-token"} <= set(names):
            return False
        received = {n: request.headers.get(n, "") for n in names}
        if self.host:
            received["host"] = self.host
        canonical = "\n".join(
            [
                request.method,
                quote(request.raw_path.split("?")[0], safe="/~"),  # encoded again
                "",
                "".join(f"{n}:{' '.join(received[n].split())}\n" for n in names),
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{region}/bedrock/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
        key = f"AWS4{SECRET_KEY}".encode()
        for part in (day, region, "bedrock", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields["Signature"])


def last_user_text(body: dict[str, Any]) -> str:
    for turn in reversed(body.get("messages", [])):
        if turn.get("role") != "user":
            continue
        texts = [b["text"] for b in turn.get("content", []) if "text" in b]
        if texts:
            return " ".join(texts)
    return ""


def error_response(status: int, prompt: str, name: str | None = None) -> web.Response:
    name = name or ERRORS[status]
    body = {"message": f"problem with your prompt: {prompt}"}
    headers = {"x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return web.json_response(body, status=status, headers=headers)


def _stop_reason(mode: str) -> str:
    return "tool_use" if mode == "tools" else "end_turn"


def _images(body: dict[str, Any]) -> str:
    found = [
        f"{b['image']['format']}:{len(base64.b64decode(b['image']['source']['bytes']))}"
        for turn in body.get("messages", [])
        for b in turn.get("content", [])
        if "image" in b
    ]
    return "images " + ",".join(found)


def converse_answer(mode: str, prompt: str, body: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if mode == "think":
        text = {"text": "let me think", "signature": "sig=="}
        content.append({"reasoningContent": {"reasoningText": text}})
    if mode == "tools":
        content += [{"toolUse": {"toolUseId": i, "name": n, "input": a}} for i, n, a in TOOLS]
    elif mode == "unicode":
        content.append({"text": UNICODE_TEXT})
    elif mode == "image":
        content.append({"text": _images(body)})
    else:
        content.append({"text": f"echo: {prompt}"})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _stop_reason(mode),
        "usage": USAGE,
        "metrics": {"latencyMs": 42},
    }


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def frame(headers: dict[str, str], payload: bytes, *, bad_crc: bool = False) -> bytes:
    """One event-stream message: prelude, its CRC, headers, payload, message CRC."""
    block = b"".join(_header(k, v) for k, v in headers.items())
    prelude = struct.pack(">II", 16 + len(block) + len(payload), len(block))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + block + payload
    crc = zlib.crc32(message) ^ (1 if bad_crc else 0)
    return message + struct.pack(">I", crc)


def event(name: str, data: dict[str, Any], *, bad_crc: bool = False) -> bytes:
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    payload = json.dumps({**data, "p": "abcdefgh"}, ensure_ascii=False).encode()
    return frame(headers, payload, bad_crc=bad_crc)


def exception(name: str, message: str) -> bytes:
    headers = {
        ":exception-type": name,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})


def _text_block(index: int, pieces: list[str]) -> list[bytes]:
    out = [_delta(index, {"text": piece}) for piece in pieces]
    return [*out, event("contentBlockStop", {"contentBlockIndex": index})]


def _tool_blocks() -> list[bytes]:
    out = []
    for index, (ident, name, args) in enumerate(TOOLS):
        start = {"toolUse": {"toolUseId": ident, "name": name}}
        out.append(event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        raw = json.dumps(args)
        out += [
            _delta(index, {"toolUse": {"input": raw[i : i + 3]}}) for i in range(0, len(raw), 3)
        ]
        out.append(event("contentBlockStop", {"contentBlockIndex": index}))
    return out


def events(mode: str, prompt: str, body: dict[str, Any]) -> list[bytes]:
    out = [event("messageStart", {"role": "assistant"})]
    first = 0
    if mode == "think":
        out += [
            _delta(0, {"reasoningContent": {"text": "let me "}}),
            _delta(0, {"reasoningContent": {"text": "think"}}),
            _delta(0, {"reasoningContent": {"signature": "sig=="}}),
            event("contentBlockStop", {"contentBlockIndex": 0}),
        ]
        first = 1
    if mode == "tools":
        out += _tool_blocks()
    elif mode == "unicode":
        out += _text_block(first, [UNICODE_TEXT[:4], UNICODE_TEXT[4:]])
    elif mode == "image":
        out += _text_block(first, [_images(body)])
    else:
        out += _text_block(first, ["one ", "two ", "three ", f"echo: {prompt}"])
    out.append(event("messageStop", {"stopReason": _stop_reason(mode)}))
    out.append(event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 42}}))
    return out


async def stream(
    request: web.Request, mode: str, prompt: str, body: dict[str, Any]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    out = events(mode, prompt, body)
    if mode == "nostop":
        out = out[:-2]
    for number, whole in enumerate(out):
        data = whole
        if mode == "break" and number == 3:
            request.transport.close()  # type: ignore[union-attr]
            return response
        if mode == "throttle-stream" and number == 2:
            await response.write(exception("throttlingException", f"slow down: {prompt}"))
            return response
        if mode == "badcrc" and number == 2:
            await response.write(event("contentBlockDelta", {"x": prompt}, bad_crc=True))
            return response
        if mode == "unicode" and "é".encode() in data:
            cut = data.index("é".encode()) + 1  # inside the two bytes of é
            await response.write(data[:cut])
            await asyncio.sleep(0.05)
            data = data[cut:]
        await response.write(data)
    return response


def start_fake_bedrock(region: str = "us-east-1") -> tuple[FakeBedrock, ServerThread]:
    fake = FakeBedrock(region=region)
    app = web.Application()
    app.router.add_post("/model/{model}/{method}", fake.converse)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
