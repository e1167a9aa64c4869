"""Known vulnerabilities in the release lock, from PyPI's advisory data (``pip-audit -s pypi``).

Run by ``scripts/check``. Exits 1 when a locked package has a known vulnerability.
PyPI's per-release data can be out of reach (no network, or a registry mirror that
does not serve it): then this says so and how many packages it could not audit,
and exits 0, so that a missing network never reads as a failing check; under
``CI=true`` it always runs and prints the same count, so a CI log shows whether
the audit had data.

    .venv/bin/python scripts/audit.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def main() -> int:
    command = [
        str(ROOT / ".venv" / "bin" / "pip-audit"), "-s", "pypi", "-f", "json",
        "--progress-spinner", "off", "--require-hashes", "--disable-pip", "-r", str(LOCK),
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        return unreachable("pip-audit timed out")
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        if os.environ.get("CI") == "true":
            print(run.stderr[-2000:], file=sys.stderr)
            print("pip-audit failed to run", file=sys.stderr)
            return 1
        return unreachable("pip-audit produced no report")
    deps = report.get("dependencies", [])
    found = [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    for name, version, vuln in found:
        print(f"pip-audit: {name} {version}: {vuln}", file=sys.stderr)
    if found:
        return 1
    if skipped:
        print(
            f"pip-audit: {len(deps) - len(skipped)} of {len(deps)} locked packages audited; "
            f"PyPI had no vulnerability data reachable from here for {len(skipped)} "
            f"({', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''})"
        )
    else:
        print(f"pip-audit: {len(deps)} locked packages, no known vulnerability")
    return 0


def unreachable(why: str) -> int:
    print(f"pip-audit skipped: {why}; PyPI's vulnerability data is unreachable from here")
    return 1 if os.environ.get("CI") == "true" else 0


if __name__ == "__main__":
    sys.exit(main())
