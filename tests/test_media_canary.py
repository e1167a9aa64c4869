"""Canary scan: after image and embedding traffic, no file the gateway could have
written holds the prompt or the image bytes.

The gateway runs as its own process (``zdrgate serve``), with its SQLite database
in a fresh data directory, ``TMPDIR`` pointed at a fresh directory and its output
captured in a log file; then every file in those places is scanned.
"""

from __future__ import annotations

import base64
import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import openai
import pytest

from conftest import MASTER
from fake_media import PNG_SIGNATURE, FakeMedia, start_fake_media

ZDR = (
    'retention_days = 0\ntrains_on_data = false\nevidence = "https://example.invalid/dpa"\n'
    f'verified_on = "{time.strftime("%Y-%m-%d")}"\n'
)


def provider_toml(
    pid: str, protocol: str, base_url: str, models: list[tuple[str, str, str]], origins: str = ""
) -> str:
    out = f'[providers.{pid}]\nprotocol = "{protocol}"\nbase_url = "{base_url}"\napi_key = "k"\n'
    if origins:
        out += f'asset_origins = ["{origins}"]\n'
    out += f"[providers.{pid}.policy]\n{ZDR}"
    for model_id, upstream, modality in models:
        out += (
            f'[[providers.{pid}.models]]\nid = "{model_id}"\nupstream_id = "{upstream}"\n'
            f"output_modalities = {modality}\n"
        )
    return out


def config(media: FakeMedia, data_dir: Path) -> str:
    image, text_image = '["image"]', '["text", "image"]'
    return "\n".join(
        [
            f'[storage]\ndatabase_url = "sqlite:///{data_dir}/zdrgate.db"\n',
            provider_toml(
                "zdr-openai",
                "openai",
                media.openai_url,
                [
                    ("t/image", "gpt-image-1", image),
                    ("t/image-url", "img-url", image),
                    ("t/image-bad", "bad400", image),
                    ("t/painter", "painter", text_image),
                    ("t/embed", "embed", '["embeddings"]'),
                ],
                origins=media.origin,
            ),
            provider_toml(
                "zdr-gemini",
                "gemini",
                media.gemini_url,
                [("t/gemini-image", "gemini-2.5-flash-image", text_image)],
            ),
        ]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def canary_image() -> bytes:
    pattern = b"CANARY-IMAGE-" + uuid.uuid4().hex.encode() + bytes(range(256))
    return PNG_SIGNATURE + pattern * 64


@pytest.fixture
def media(canary_image: bytes) -> Iterator[FakeMedia]:
    fake, server = start_fake_media(canary_image)
    yield fake
    server.stop()


def run_gateway(media: FakeMedia, root: Path, log: BinaryIO) -> tuple[subprocess.Popen[bytes], str]:
    data_dir, tmp_dir = root / "data", root / "tmp"
    data_dir.mkdir()
    tmp_dir.mkdir()
    (data_dir / "zdrgate.toml").write_text(config(media, data_dir))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TMPDIR": str(tmp_dir),
        "ZDRGATE_MASTER_KEY": MASTER,
        "HOME": str(data_dir),
    }
    command = [sys.executable, "-m", "zdrgate", "serve", "--config", "zdrgate.toml"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=data_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not start")


def traffic(url: str, prompt: str, media: FakeMedia) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key=MASTER, max_retries=0)
    for model in ("t/image", "t/image-url", "t/gemini-image"):
        result = client.images.generate(model=model, prompt=prompt, n=2)
        assert result.data is not None and result.data[0].b64_json == media.b64
    with pytest.raises(openai.BadRequestError):  # the upstream's error body quotes the prompt
        client.images.generate(model="t/image-bad", prompt=prompt)
    chat = client.chat.completions.create(
        model="t/painter",
        messages=[{"role": "user", "content": prompt}],
        modalities=["image", "text"],  # type: ignore[list-item]
    )
    assert chat.choices[0].message.model_extra["images"]
    client.embeddings.create(model="t/embed", input=[prompt, prompt + " again"])


def needles(prompt: str, image: bytes) -> list[bytes]:
    pattern = image[len(PNG_SIGNATURE) : len(PNG_SIGNATURE) + 300]
    shifted = [base64.b64encode(b"\0" * pad + pattern)[4:-4] for pad in range(3)]
    return [prompt.encode(), pattern, base64.b64encode(image)[:400], *shifted]


def test_no_prompt_or_image_bytes_on_disk(
    media: FakeMedia, canary_image: bytes, tmp_path: Path
) -> None:
    prompt = f"canary-prompt-{uuid.uuid4().hex}"
    log = tmp_path / "gateway.log"
    with log.open("wb") as sink:
        process, url = run_gateway(media, tmp_path, sink)
        try:
            traffic(url, prompt, media)
        finally:
            process.terminate()
            process.wait(20)
    rows = sqlite3.connect(tmp_path / "data" / "zdrgate.db").execute(
        "select route, status from usage"
    )
    routes = sorted(route for route, _ in rows)
    assert routes.count("images.generations") == 4 and "embeddings" in routes
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert log in files and any(p.suffix == ".db" for p in files)
    hits = [
        (str(path), needle[:20])
        for path in files
        for needle in needles(prompt, canary_image)
        if needle in path.read_bytes()
    ]
    assert hits == []
