"""Property tests of the decoders tests/test_translation_fuzz.py does not cover: each
raises only its module's declared error on arbitrary input, and (where input arrives
in pieces) a valid input split at arbitrary points decodes exactly as whole.

| decoder | declared error |
|---|---|
| SSE (`protocols/sse.py`) | `StreamProtocolError` |
| each protocol's stream decoder | `StreamProtocolError` |
| each protocol's image and embedding answer parser | `StreamProtocolError` |
| each protocol's error classifier (`classify`, headers included) | none: always an answer |
| request bodies of every route (`server/parsing.parse_body`) | `GatewayError` with a 4xx |
| receipts: a compact JWS, `verify_receipt` | none: a `Verification` that is not ok |
| receipts: a saved exchange or stream (`receipts/exchange.py`) | `NoReceipt` |
| a JWKS document (`keys_of_jwks`) | `ConfigError` |
| the config file (`config.load_settings`, TOML) | `ConfigError` |
| a catalog document (`catalog/load.parse_catalog`) | `ConfigError` |
| the `Authorization` header (`accounts/auth.bearer`) | `AuthenticationFailed` |
| upstream HTTP/1.1 responses (`upstream/http1.Connection`) | `HTTPClientError` |
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from test_translation_fuzz import endpoint, json_value
from zdrgate.accounts.auth import bearer
from zdrgate.catalog.load import parse_catalog
from zdrgate.catalog.model import Protocol
from zdrgate.config import load_settings
from zdrgate.errors import AuthenticationFailed, ConfigError, GatewayError
from zdrgate.protocols import SPECS
from zdrgate.protocols.errors import StreamProtocolError
from zdrgate.protocols.sse import Event, SSEDecoder
from zdrgate.receipts import NoReceipt, keys_of_jwks, receipt_in_exchange, verify_receipt
from zdrgate.receipts.exchange import receipt_in_stream
from zdrgate.server.parsing import parse_body
from zdrgate.wire.chat import ChatRequest

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUEST = ChatRequest(model="a/m", messages=[{"role": "user", "content": "x"}])
STREAMING = [p for p, spec in SPECS.items() if spec.stream is not None]


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given points (any order, repeats and out-of-range ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


cuts = st.lists(st.integers(0, 4000), max_size=12)


# --- SSE ---------------------------------------------------------------------------


def sse_events(decoder: SSEDecoder, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.flush()


@FUZZ
@given(data=st.binary(max_size=300), at=cuts)
def test_sse_on_any_bytes_raises_only_protocol_errors(data: bytes, at: list[int]) -> None:
    with contextlib.suppress(StreamProtocolError):
        sse_events(SSEDecoder(max_event_bytes=64), pieces(data, at))


sse_line = st.one_of(
    st.builds(lambda v: f"data: {v}", st.text(alphabet=st.characters(
        blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20)),
    st.builds(lambda v: f"event: {v}", st.sampled_from(["x", "message_start", "ping"])),
    st.just(": a comment"),
    st.just("id: 7"),
    st.just(""),
)


@FUZZ
@given(lines=st.lists(sse_line, max_size=12), ending=st.sampled_from(["\n", "\r\n", "\r"]),
       at=cuts)
def test_sse_split_anywhere_decodes_as_whole(lines: list[str], ending: str, at: list[int]) -> None:
    data = (ending.join(lines) + ending * 2).encode("utf-8")  # cuts land inside UTF-8 too
    whole = sse_events(SSEDecoder(), [data])
    assert sse_events(SSEDecoder(), pieces(data, at)) == whole


# --- stream decoders ---------------------------------------------------------------


def openai_stream(texts: list[str]) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    events = [{**chunk, "choices": [{"index": 0, "delta": {"content": t}}]} for t in texts]
    events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
    return b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def anthropic_stream(texts: list[str]) -> bytes:
    message = {"id": "m", "type": "message", "role": "assistant", "model": "m", "content": [],
               "stop_reason": None, "usage": {"input_tokens": 1, "output_tokens": 0}}
    events: list[tuple[str, Any]] = [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
    ]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": t}})
               for t in texts]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                  "usage": {"output_tokens": 2}}),
               ("message_stop", {"type": "message_stop"})]
    return b"".join(f"event: {n}\n".encode() + b"data: " + orjson.dumps(e) + b"\n\n"
                    for n, e in events)


def gemini_stream(texts: list[str]) -> bytes:
    events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": t}]},
                               "index": 0}]} for t in texts]
    events.append({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
                                   "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2,
                                     "totalTokenCount": 3}})
    return b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events)


# Each streaming protocol's wire form (a protocol added later is fuzzed with arbitrary
# bytes below; give it a valid stream here to have its splits checked too).
WIRE = {Protocol.OPENAI: openai_stream, Protocol.AZURE_OPENAI: openai_stream,
        Protocol.ANTHROPIC: anthropic_stream, Protocol.ANTHROPIC_VERTEX: anthropic_stream,
        Protocol.GEMINI: gemini_stream}
SPLIT_CHECKED = [p for p in STREAMING if p in WIRE]


def decoded(protocol: Protocol, chunks: list[bytes]) -> list[Any]:
    decoder = SPECS[protocol].require_stream().stream_decoder(endpoint(protocol), REQUEST)
    out: list[Any] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.finish()


def without_volatile(chunks: list[Any]) -> list[Any]:
    """Decoded chunks minus fields a decoder may stamp per call (ids, times)."""
    return [{k: v for k, v in c.items() if k not in {"id", "created"}}
            if isinstance(c, dict) else c for c in chunks]


@FUZZ
@given(texts=st.lists(st.text(max_size=8), min_size=1, max_size=5), at=cuts)
def test_valid_streams_split_anywhere_decode_as_whole(texts: list[str], at: list[int]) -> None:
    for protocol in SPLIT_CHECKED:
        data = WIRE[Protocol(protocol)](texts)
        whole = without_volatile(decoded(protocol, [data]))
        assert whole, protocol
        assert without_volatile(decoded(protocol, pieces(data, at))) == whole, protocol


@FUZZ
@given(data=st.binary(max_size=200) | json_value.map(lambda v: b"data: " + orjson.dumps(v)),
       at=cuts)
def test_any_stream_bytes_raise_only_protocol_errors(data: bytes, at: list[int]) -> None:
    for protocol in STREAMING:
        with contextlib.suppress(StreamProtocolError):
            decoded(protocol, pieces(data, at))


# --- image and embedding answers, error bodies --------------------------------------


def any_body() -> st.SearchStrategy[bytes]:
    shaped = st.fixed_dictionaries({}, optional={
        "data": json_value, "usage": json_value, "predictions": json_value,
        "candidates": json_value, "embeddings": json_value, "embedding": json_value,
        "error": json_value})
    return st.binary(max_size=40) | (json_value | shaped).map(orjson.dumps)


@FUZZ
@given(body=any_body())
def test_image_and_embedding_answers_raise_only_protocol_errors(body: bytes) -> None:
    for protocol, spec in SPECS.items():
        ep = endpoint(protocol)
        if spec.images is not None:
            with contextlib.suppress(StreamProtocolError):
                spec.images.parse_images(ep, body)
        if spec.embeddings is not None:
            with contextlib.suppress(StreamProtocolError):
                spec.embeddings.parse_embeddings(ep, body)


header_value = st.text(max_size=12) | st.sampled_from(
    ["0", "-1", "1e309", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999"])


@FUZZ
@given(status=st.integers(100, 599), body=any_body(),
       headers=st.dictionaries(st.sampled_from(["retry-after", "content-type", "x-should-retry",
                                                "retry-after-ms", "x-request-id"]),
                               header_value, max_size=3))
def test_error_classifiers_answer_anything(status: int, body: bytes,
                                           headers: dict[str, str]) -> None:
    for spec in SPECS.values():
        info = spec.classify(status, headers, body)
        assert info.status == status


# --- request bodies ------------------------------------------------------------------


def request_models() -> list[type[BaseModel]]:
    """Every body a route parses: the /v1 APIs (the inbound protocols' too), sign-in,
    receipts, the admin and account routes."""
    from zdrgate.wire import admin, auth, chat, embeddings, images, receipts  # noqa: PLC0415

    found: set[type[BaseModel]] = {
        spec.inbound.request_model for spec in SPECS.values() if spec.inbound is not None}
    found |= {chat.ChatRequest, images.ImageRequest, embeddings.EmbeddingRequest,
              auth.LoginRequest, auth.SignupRequest, receipts.VerifyRequest}
    found |= {m for m in vars(admin).values() if isinstance(m, type)
              and issubclass(m, BaseModel) and m.__module__ == admin.__name__}
    return sorted(found, key=lambda m: m.__name__)


@FUZZ
@given(body=st.binary(max_size=60) | json_value.map(orjson.dumps)
       | st.dictionaries(st.sampled_from(["model", "messages", "prompt", "input", "api_key",
                                          "email", "receipt", "stream", "n", "max_tokens"]),
                         json_value, max_size=4).map(orjson.dumps))
def test_every_request_model_refuses_with_a_4xx_only(body: bytes) -> None:
    for model in request_models():
        try:
            parse_body(model, body)
        except GatewayError as exc:
            assert 400 <= exc.status < 500, (model.__name__, exc)


# --- receipts -----------------------------------------------------------------------


token_part = st.text(alphabet="ABCDEFGHabcdefgh0123456789-_=+/.", max_size=30)


@FUZZ
@given(token=st.text(max_size=60) | st.lists(token_part, min_size=3, max_size=3).map(".".join),
       req=st.none() | st.binary(max_size=10), res=st.none() | st.binary(max_size=10))
def test_any_token_is_answered_not_raised(token: str, req: bytes | None,
                                          res: bytes | None) -> None:
    assert not verify_receipt(token, {}, req, res).ok


@FUZZ
@given(raw=st.binary(max_size=200) | st.lists(st.sampled_from(
    [b"HTTP/1.1 200 OK", b"content-type: text/event-stream", b"zdr-receipt: a.b.c",
     b": zdr-receipt=x.y.z", b"data: {}", b"", b"\r", b"HTTP/1.1 100 Continue"]),
    max_size=8).map(b"\n".join))
def test_saved_exchanges_raise_only_no_receipt(raw: bytes) -> None:
    for find in (receipt_in_exchange, receipt_in_stream):
        try:
            token, covered = find(raw)
        except NoReceipt:
            continue
        assert isinstance(token, str) and covered in raw


@FUZZ
@given(raw=st.binary(max_size=60) | json_value.map(orjson.dumps)
       | st.dictionaries(st.just("keys"), st.lists(
           st.dictionaries(st.sampled_from(["kid", "kty", "crv", "x"]), json_value, max_size=4),
           max_size=2)).map(orjson.dumps))
def test_a_jwks_document_raises_only_config_errors(raw: bytes) -> None:
    with contextlib.suppress(ConfigError):
        keys_of_jwks(raw)


# --- config, catalog, headers --------------------------------------------------------


toml_text = st.lists(st.sampled_from([
    "[server]", "[storage]", "port = 8080", "port = \"x\"", "host = 1", "[providers.x]",
    "protocol = \"openai\"", "base_url = \"http://127.0.0.1:1/v1\"", "[[providers.x.models]]",
    "id = \"a/b\"", "unknown = true", "x = [1, \"a\"]", "= broken", "[storage", "\u00e9 = 1",
]), max_size=8).map(lambda lines: "\n".join(lines).encode())


@FUZZ
@given(raw=toml_text | st.binary(max_size=40))
def test_a_config_file_raises_only_config_errors(raw: bytes, tmp_path_factory: Any) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "zdrgate.toml"
    path.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        load_settings(path)


@FUZZ
@given(raw=st.dictionaries(st.sampled_from(["schema_version", "policies", "providers",
                                            "models"]), json_value, max_size=4)
       | st.fixed_dictionaries({"schema_version": st.just(1), "policies": st.dictionaries(
           st.text(max_size=3), json_value, max_size=2), "providers": st.dictionaries(
           st.text(max_size=3), json_value, max_size=2), "models": st.lists(json_value,
                                                                          max_size=2)}))
def test_a_catalog_document_raises_only_config_errors(raw: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        parse_catalog(raw)


@FUZZ
@given(value=st.none() | st.text(max_size=40))
def test_the_authorization_header_raises_only_authentication_failed(value: str | None) -> None:
    with contextlib.suppress(AuthenticationFailed):
        assert bearer(value)


@pytest.mark.parametrize("protocol", SPLIT_CHECKED)
def test_the_stream_wires_here_are_what_the_decoders_read(protocol: str) -> None:
    """The valid streams above decode to text (else the split test proves little)."""
    chunks = decoded(protocol, [WIRE[Protocol(protocol)](["hel", "lo"])])
    text = "".join(c["choices"][0]["delta"].get("content") or ""
                   for c in chunks if isinstance(c, dict) and c.get("choices"))
    assert text == "hello"


# --- the upstream HTTP/1.1 response parser -------------------------------------------


class FakeTransport:
    """What the connection calls on its transport; the bytes arrive by data_received."""

    def __init__(self) -> None:
        self.closed = False

    def writelines(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def receive(chunks: list[bytes]) -> tuple[int, bytes]:
    """(status, body) of a response arriving in these pieces, then the connection
    closing; the parser's own error (``HTTPClientError``) is raised as is."""
    import asyncio  # noqa: PLC0415

    from zdrgate.upstream.http1 import Connection  # noqa: PLC0415

    async def run() -> tuple[int, bytes]:
        conn = Connection(asyncio.get_running_loop(), max_body=4096)
        conn.connection_made(FakeTransport())  # type: ignore[arg-type]
        response = conn.start([])
        for chunk in chunks:
            if conn.transport is None:
                break
            conn.data_received(chunk)
        conn.connection_lost(None)
        await response.head()
        return response.status, await response.read()

    return asyncio.run(run())


def http_response(body: bytes, chunked: bool, gzipped: bool, extra: list[str]) -> bytes:
    import gzip  # noqa: PLC0415

    payload = gzip.compress(body) if gzipped else body
    head = ["HTTP/1.1 200 OK", "content-type: application/json", *extra]
    if gzipped:
        head.append("content-encoding: gzip")
    if chunked:
        head.append("transfer-encoding: chunked")
        framed = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 7]), payload[i:i + 7])
                          for i in range(0, len(payload), 7)) + b"0\r\n\r\n"
    else:
        head.append(f"content-length: {len(payload)}")
        framed = payload
    return "\r\n".join(head).encode() + b"\r\n\r\n" + framed


@FUZZ
@given(body=st.binary(max_size=300), chunked=st.booleans(), gzipped=st.booleans(),
       extra=st.lists(st.sampled_from(["x-a: 1", "x-a: 2", "retry-after: 3", "server: s"]),
                      max_size=3), at=cuts)
def test_a_valid_upstream_response_split_anywhere_reads_as_whole(
    body: bytes, chunked: bool, gzipped: bool, extra: list[str], at: list[int]
) -> None:
    data = http_response(body, chunked, gzipped, extra)
    assert receive(pieces(data, at)) == (200, body)


@FUZZ
@given(data=st.binary(max_size=200) | st.lists(st.sampled_from(
    [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 103 Early Hints\r\n", b"content-length: 5\r\n",
     b"content-length: x\r\n", b"transfer-encoding: chunked\r\n", b"content-encoding: gzip\r\n",
     b"content-encoding: br\r\n", b"\r\n", b"5\r\nhello\r\n", b"zz\r\n", b"0\r\n\r\n",
     b"\x1f\x8b\x08\x00", b"body"]), max_size=10).map(b"".join), at=cuts)
def test_any_upstream_bytes_raise_only_the_clients_errors(data: bytes, at: list[int]) -> None:
    from zdrgate.upstream.http1 import HTTPClientError  # noqa: PLC0415

    with contextlib.suppress(HTTPClientError):
        receive(pieces(data, at))
