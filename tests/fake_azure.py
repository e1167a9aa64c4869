"""A fake Azure OpenAI resource on 127.0.0.1 speaking Azure's wire format.

Both APIs of a resource (``https://{resource}.openai.azure.com``):

- deployment-path: ``POST /openai/deployments/{deployment}/{chat/completions |
  images/generations | embeddings}?api-version=...`` (an unknown or missing
  ``api-version`` is Azure's 404);
- v1: ``POST /openai/v1/{operation}``, the deployment in the body's ``model``
  (``api-version`` optional: ``preview`` or ``latest``);
- the Responses API: ``POST /openai/v1/responses`` and, on the older API,
  ``POST /openai/responses?api-version=`` (2025-03-01-preview or later), the deployment
  in the body's ``model``; answered as ``fake_responses`` answers (``store`` must be false).

A call without the right ``api-key`` header (or ``Authorization: Bearer`` with the
Entra ID token) is Azure's 401. The deployment name chooses the behaviour, as the
model id does in ``fake_openai`` (``ok``, ``tools``, ``fail500``, ``bad400``, ...), plus:

- ``blocked``: the content filter's 400 (``content_filter``, ``innererror``), quoting
  the prompt in its message as Azure does;
- ``filtered``: an answer cut by the output filter (``finish_reason: content_filter``).

Answers carry Azure's annotations (``prompt_filter_results``, per-choice
``content_filter_results``; streams open with a filter-only chunk), which the gateway
must drop. Every request is recorded with its path, query, headers and body.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fake_openai import ServerThread, _chunks, _completion, _last_user_text
from fake_responses import FakeResponses

KEY = "upstream-key"
ENTRA_TOKEN = "entra-id-token"
API_VERSIONS = frozenset({"2024-10-21", "2025-04-01-preview"})
RESPONSES_VERSIONS = frozenset({"2025-03-01-preview", "2025-04-01-preview"})
V1_VERSIONS = frozenset({"preview", "latest"})
_VERDICT = {"filtered": False, "severity": "safe"}
FILTER_RESULTS = {k: _VERDICT for k in ("hate", "self_harm", "sexual", "violence")}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


@dataclass
class AzureCall:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    deployment: str


@dataclass
class FakeAzure:
    calls: list[AzureCall] = field(default_factory=list)
    port: int = 0
    responses_api: FakeResponses = field(default_factory=FakeResponses)

    @property
    def base_url(self) -> str:
        """The deployment-path API's base URL."""
        return f"http://127.0.0.1:{self.port}/openai"

    @property
    def v1_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/openai/v1"

    async def deployment_path(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("api-version") not in API_VERSIONS:
            return _error(404, "404", "Resource not found")
        return await self._serve(request, request.match_info["deployment"])

    async def v1(self, request: web.Request) -> web.StreamResponse:
        version = request.query.get("api-version")
        if version is not None and version not in V1_VERSIONS:
            return _error(400, "BadRequest", "API version not supported")
        body = await request.json()
        return await self._serve(request, str(body.get("model")))

    async def responses(self, request: web.Request) -> web.StreamResponse:
        """The older API's ``/openai/responses`` (not under ``/deployments/``)."""
        if request.query.get("api-version") not in RESPONSES_VERSIONS:
            return _error(404, "404", "Resource not found")
        body = await request.json()
        return await self._serve(request, str(body.get("model")))

    async def _serve(self, request: web.Request, deployment: str) -> web.StreamResponse:
        body = await request.json()
        headers = dict(request.headers)
        self.calls.append(AzureCall(request.path, dict(request.query), headers, body, deployment))
        if not _authorized(request):
            return _error(401, "401", "Access denied due to invalid subscription key.")
        operation = request.match_info.get("operation", "responses")
        if operation == "responses":
            return await self.responses_api.responses(request)
        if operation == "images/generations":
            return web.json_response(_images(body))
        if operation == "embeddings":
            return web.json_response(_embeddings(body))
        if operation != "chat/completions":
            return _error(404, "404", "Resource not found")
        return await self._chat(request, body, deployment)

    async def _chat(
        self, request: web.Request, body: dict[str, Any], mode: str
    ) -> web.StreamResponse:
        prompt = _last_user_text(body)
        if mode == "blocked":
            return _content_filter_error(prompt)
        if mode.startswith("fail") or mode == "bad400":
            status = 400 if mode == "bad400" else int(mode[4:])
            code = "context_length_exceeded" if status == 400 else str(status)
            return _error(status, code, f"problem with your prompt: {prompt}")
        if body.get("stream"):
            return await _stream(request, body, mode, prompt)
        answer = _completion(body, mode, prompt)
        answer["prompt_filter_results"] = [
            {"prompt_index": 0, "content_filter_results": FILTER_RESULTS}
        ]
        for choice in answer["choices"]:
            choice["content_filter_results"] = FILTER_RESULTS
            if mode == "filtered":
                choice["finish_reason"] = "content_filter"
                choice["message"]["content"] = "echo:"
        return web.json_response(answer)


def _authorized(request: web.Request) -> bool:
    if "api-key" in request.headers:
        return request.headers["api-key"] == KEY and "authorization" not in request.headers
    return request.headers.get("authorization") == f"Bearer {ENTRA_TOKEN}"


async def _stream(
    request: web.Request, body: dict[str, Any], mode: str, prompt: str
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    opening = {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTER_RESULTS}],
    }
    await response.write(b"data: " + json.dumps(opening).encode() + b"\n\n")
    for chunk in _chunks(body, mode, prompt):
        for choice in chunk["choices"]:
            choice["content_filter_results"] = FILTER_RESULTS
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if mode == "break" and chunk["choices"] and chunk["choices"][0]["delta"].get(
            "content"
        ) == "two ":
            request.transport.close()  # type: ignore[union-attr]
            return response
    # Asynchronous filtering: a choice with the verdict only, after the finish.
    late = {"index": 0, "finish_reason": None, "content_filter_results": FILTER_RESULTS,
            "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": 9}}
    trailer = {"id": "chatcmpl-fake123", "object": "chat.completion.chunk", "created": 0,
               "model": mode, "choices": [late]}
    await response.write(b"data: " + json.dumps(trailer).encode() + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    return response


def _content_filter_error(prompt: str) -> web.Response:
    error = {
        "message": f"The response was filtered due to the prompt triggering Azure OpenAI's "
        f"content management policy: {prompt}",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": {**FILTER_RESULTS, "violence": {"filtered": True,
                                                                     "severity": "high"}},
        },
    }
    return web.json_response({"error": error}, status=400)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _images(body: dict[str, Any]) -> dict[str, Any]:
    item = {
        "b64_json": PNG,
        "revised_prompt": f"revised: {body.get('prompt')}",
        "content_filter_results": FILTER_RESULTS,
        "prompt_filter_results": FILTER_RESULTS,
    }
    usage = {
        "input_tokens": 12,
        "output_tokens": 100,
        "total_tokens": 112,
        "input_tokens_details": {"text_tokens": 12, "image_tokens": 0},
    }
    return {"created": 1700000000, "data": [item] * int(body.get("n") or 1), "usage": usage}


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    vector = [0.5, -0.25, 0.125]
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": (
                base64.b64encode(struct.pack("<3f", *vector)).decode()
                if body.get("encoding_format") == "base64"
                else vector
            ),
        }
        for i in range(len(inputs))
    ]
    usage = {"prompt_tokens": 4, "total_tokens": 4}
    return {"object": "list", "model": body.get("model"), "data": data, "usage": usage}


def start_fake_azure() -> tuple[FakeAzure, ServerThread]:
    fake = FakeAzure()
    app = web.Application()
    app.router.add_post(
        "/openai/deployments/{deployment}/{operation:.+}", fake.deployment_path
    )
    app.router.add_post("/openai/v1/{operation:.+}", fake.v1)
    app.router.add_post("/openai/responses", fake.responses)
    server = ServerThread(app)
    fake.port = server.start()
    return fake, server
