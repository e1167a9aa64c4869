"""The README's first command installs only the base dependencies (`pip install .`):
the gateway must import, build and serve without the optional packages (redis,
psycopg, opentelemetry), which only the scaled mode and tracing need."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BLOCK_OPTIONAL = """
import sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"redis", "psycopg", "opentelemetry"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, Block())
from starlette.testclient import TestClient
from zdrgate.cli import main  # the CLI module and what it imports
from zdrgate.config import Settings
from zdrgate.server.app import create_app

storage = {"database_url": sys.argv[1], "data_dir": sys.argv[2]}
settings = Settings.model_validate({"storage": storage})
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
print("served")
"""


def test_the_gateway_serves_without_optional_packages(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/zdrgate.db"
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_OPTIONAL, db, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("served")
