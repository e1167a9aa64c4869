"""SigV4 signing and AWS event-stream decoding: zdrgate's own code against botocore
(and awscrt's signer) where they are installed.

Usage (the libraries are not zdrgate dependencies; install them in a scratch venv)::

    python -m venv /tmp/awsbench && /tmp/awsbench/bin/pip install botocore awscrt orjson pydantic
    PYTHONPATH=src:tests /tmp/awsbench/bin/python bench/aws_libs.py

Prints CPU microseconds per signature and per frame (best of 5 runs), and the import
time of each module in a fresh interpreter.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable

from fake_bedrock import events
from zdrgate.catalog.model import AwsCredentials
from zdrgate.protocols.bedrock.eventstream import EventStreamDecoder
from zdrgate.upstream.sigv4 import sign

URL = "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-x-v1%3A0/converse"
BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "x" * 2000}]}]}).encode()
HEADERS = {"content-type": "application/json", "accept": "application/json"}
STREAM = b"".join(events("ok", "hello", {})) * 50  # ~8 frames per answer
FRAMES = STREAM.count(b":message-type")


def best(run: Callable[[], object], n: int) -> float:
    """CPU microseconds per call, best of 5 runs of ``n`` calls."""
    times = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(n):
            run()
        times.append((time.process_time() - start) / n * 1e6)
    return min(times)


def ours_sign() -> object:
    credentials = AwsCredentials("AKIDEXAMPLE", "secret", "token")
    now = dt.datetime.now(dt.UTC)
    return sign(
        credentials,
        "eu-west-3",
        "bedrock",
        "POST",
        "bedrock-runtime.eu-west-3.amazonaws.com",
        "/model/anthropic.claude-x-v1%3A0/converse",
        HEADERS,
        BODY,
        now,
    )


def botocore_sign() -> Callable[[], object]:
    from botocore.auth import SigV4Auth  # noqa: PLC0415
    from botocore.awsrequest import AWSRequest  # noqa: PLC0415
    from botocore.credentials import Credentials  # noqa: PLC0415

    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "token"), "bedrock", "eu-west-3")

    def run() -> object:
        request = AWSRequest(method="POST", url=URL, data=BODY, headers=dict(HEADERS))
        signer.add_auth(request)
        return request

    return run


def ours_frames() -> object:
    decoder = EventStreamDecoder()
    out = [
        m
        for start in range(0, len(STREAM), 1400)
        for m in decoder.feed(STREAM[start : start + 1400])
    ]
    decoder.finish()
    return out


def botocore_frames() -> Callable[[], object]:
    from botocore.eventstream import EventStreamBuffer  # noqa: PLC0415

    def run() -> object:
        buffer = EventStreamBuffer()
        out = []
        for start in range(0, len(STREAM), 1400):
            buffer.add_data(STREAM[start : start + 1400])
            out += list(buffer)
        return out

    return run


def awscrt_sign() -> Callable[[], object]:
    from awscrt import auth, http  # noqa: PLC0415

    provider = auth.AwsCredentialsProvider.new_static("AKIDEXAMPLE", "secret", "token")
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
        credentials_provider=provider,
        region="eu-west-3",
        service="bedrock",
    )

    def run() -> object:
        headers = http.HttpHeaders(
            [*HEADERS.items(), ("host", "bedrock-runtime.eu-west-3.amazonaws.com")]
        )
        request = http.HttpRequest("POST", URL.split(".com", 1)[1], headers, io.BytesIO(BODY))
        return auth.aws_sign_request(request, config).result()

    return run


def import_ms(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(5)]
    return min(runs) * 1000


def main() -> None:
    print(f"signature (2 kB body): ours {best(ours_sign, 2000):.1f} us")
    try:
        print(f"signature: botocore SigV4Auth {best(botocore_sign(), 2000):.1f} us")
    except ImportError:
        print("botocore not installed")
    try:
        print(f"signature: awscrt aws_sign_request {best(awscrt_sign(), 2000):.1f} us")
    except ImportError:
        print("awscrt not installed")
    per = FRAMES
    print(f"frames: ours {best(ours_frames, 20) / per:.2f} us per frame ({per} frames)")
    try:
        print(f"frames: botocore EventStreamBuffer {best(botocore_frames(), 20) / per:.2f} us")
    except ImportError:
        print("botocore not installed")
    for module in (
        "hashlib, hmac, struct, zlib, urllib.parse",  # all that ours imports (stdlib)
        "botocore.auth",
        "botocore.eventstream",
        "awscrt.auth",
    ):
        try:
            print(f"import {module}: {import_ms(module):.1f} ms")
        except subprocess.CalledProcessError:
            print(f"import {module}: not installed")


if __name__ == "__main__":
    main()
