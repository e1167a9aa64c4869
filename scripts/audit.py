"""Known vulnerabilities in the release lock, from a vulnerability service (pip-audit).

Run by ``scripts/check``::

    .venv/bin/python scripts/audit.py                         # PyPI's advisory data
    .venv/bin/python scripts/audit.py --service osv           # OSV (api.osv.dev)
    .venv/bin/python scripts/audit.py --service osv --osv-url http://mirror/v1/query
    .venv/bin/python scripts/audit.py --require-data          # no data is a failure too

The verdict is one of three, never a "clean" that audited nothing:

- ``FAILED``: a locked package has a known vulnerability (exit 1);
- ``NO VULNERABILITY DATA``: the service answered nothing usable (unreachable, a
  registry mirror without advisory data, or a service that does not even know the
  vulnerabilities of ``KNOWN_VULNERABLE``, which every advisory database lists), so
  nothing was audited: exit 0, or 1 with ``--require-data``;
- ``clean``: the service knows the probe's vulnerabilities and reports none for the
  lock (packages it had no data for are named).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"
# A release with published advisories in PyPI's and OSV's data (CVE-2019-10906,
# CVE-2020-28493, ...): a service that reports none for it has no data to audit with.
KNOWN_VULNERABLE = "jinja2==2.10"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="pip-audit of the release lock, honestly reported")
    p.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    p.add_argument("--osv-url", help="OSV query URL (a mirror) instead of api.osv.dev")
    p.add_argument("--lock", type=Path, default=LOCK)
    p.add_argument("--require-data", action="store_true",
                   help="exit 1 when the service has no vulnerability data")
    p.add_argument("--timeout", type=float, default=300.0)
    return p.parse_args(argv)


def pip_audit(args: argparse.Namespace, requirements: Path, *extra: str) -> dict[str, Any] | str:
    """pip-audit's JSON report, or why there is none."""
    command = [str(PIP_AUDIT), "-s", args.service, "-f", "json", "--progress-spinner", "off",
               "--disable-pip", *extra, "-r", str(requirements)]
    if args.osv_url:
        command += ["--osv-url", args.osv_url]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout,
                             check=False)
    except subprocess.TimeoutExpired:
        return "pip-audit timed out"
    try:
        report: dict[str, Any] = json.loads(run.stdout)
    except json.JSONDecodeError:
        last = run.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"pip-audit produced no report ({last[0][:200]})"
    return report


def findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    deps = report.get("dependencies", [])
    return [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]


def service_has_data(args: argparse.Namespace) -> tuple[bool, str]:
    """Whether the service reports the known vulnerabilities of ``KNOWN_VULNERABLE``."""
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe.txt"
        probe.write_text(KNOWN_VULNERABLE + "\n")
        report = pip_audit(args, probe, "--no-deps")
    if isinstance(report, str):
        return False, report
    if findings(report):
        return True, ""
    if any(d.get("skip_reason") for d in report.get("dependencies", [])):
        return False, f"it has no data for {KNOWN_VULNERABLE}"
    return False, f"it reports no vulnerability for {KNOWN_VULNERABLE}"


def verdict(args: argparse.Namespace, report: dict[str, Any] | str, has_data: bool,
            why: str) -> tuple[int, list[str]]:
    if isinstance(report, str):
        return no_data(args, report)
    found = findings(report)
    if found:
        lines = [f"pip-audit: {name} {version}: {vuln}" for name, version, vuln in found]
        return 1, [*lines, f"supply-chain audit: FAILED, {len(found)} known "
                   f"vulnerabilit{'y' if len(found) == 1 else 'ies'} in the lock"]
    deps = report.get("dependencies", [])
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    if not has_data or len(skipped) == len(deps):
        return no_data(args, why or f"none of the {len(deps)} locked packages had data")
    line = f"supply-chain audit: clean, {len(deps) - len(skipped)} locked packages audited " \
           f"({args.service}), no known vulnerability"
    if skipped:
        line += f"; NO VULNERABILITY DATA for {len(skipped)}: {', '.join(skipped)}"
    return 0, [line]


def no_data(args: argparse.Namespace, why: str) -> tuple[int, list[str]]:
    return (1 if args.require_data else 0), [
        f"supply-chain audit: NO VULNERABILITY DATA from the {args.service} service ({why}): "
        "nothing was audited. Run it where the service is reachable, or with --service osv "
        "--osv-url pointing to a mirror."]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    has_data, why = service_has_data(args)
    report = pip_audit(args, args.lock, "--require-hashes")
    status, lines = verdict(args, report, has_data, why)
    for line in lines:
        print(line, file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
