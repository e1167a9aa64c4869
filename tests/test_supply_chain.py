"""Supply chain: the release lock matches pyproject.toml and carries hashes, and the
environment runs no ``.pth`` start-up code beyond what pip and editable installs make.

A ``.pth`` file in site-packages runs its ``import`` lines at every interpreter start
(the route of several malicious packages): any file not on the allowlist fails here.
"""

from __future__ import annotations

import re
import site
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)", re.M)

# Start-up files pip, setuptools, virtualenv and editable installs write, by name.
ALLOWED_PTH = (
    re.compile(r"distutils-precedence\.pth"),  # setuptools
    re.compile(r"_virtualenv\.pth"),  # virtualenv
    re.compile(r"_editable_impl_zdrgate\.pth"),  # hatchling editable install of this project
    re.compile(r"_zdrgate\.pth"),
    re.compile(r"__editable__\.zdrgate-[\w.]+\.pth"),  # setuptools-style editable
)


def locked() -> dict[str, tuple[Version, str]]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pins: dict[str, tuple[Version, str]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match:
            pins[canonicalize_name(match[1])] = (Version(match[2]), block)
    return pins


def test_every_runtime_dependency_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run scripts/lock"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
    for name, (_, block) in pins.items():
        assert "--hash=sha256:" in block, name


def test_no_unexpected_pth_files() -> None:
    dirs = {Path(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    dirs |= {Path(p) for p in sys.path if p.endswith("site-packages")}
    found = sorted(f for d in dirs if d.is_dir() for f in d.glob("*.pth"))
    unexpected = [f for f in found if not any(p.fullmatch(f.name) for p in ALLOWED_PTH)]
    assert unexpected == [], f"unexpected .pth files run code at start-up: {unexpected}"
