"""``zdrgate audit --target URL --key K``: the probes against a running deployment.

Usage::

    report = asyncio.run(run_target_audit(Target(url, key, data_dir=..., ...)))

The deployment must route the audit's model ids (``audit/openai``, ...) to the audit's
fakes (``zdrgate audit-fakes`` serves them and prints the providers to configure).
Every probe goes over HTTP, as a client's request would (the web app's chat signed in
with a session cookie). Then what a client can read is scanned for the canary (the
answers of the usage, admin, metrics and policy-log routes the key may read), and the
local places the operator names (``--data-dir``, ``--database-url``, ``--redis-url``,
``--log-file``); temp directories only when the deployment runs on this host
(loopback). Every place that could not be scanned is named in the report.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from zdrgate.audit.client import TIMEOUT, post_probe
from zdrgate.audit.places import scan_redis
from zdrgate.audit.probes import probes
from zdrgate.audit.report import AuditReport
from zdrgate.audit.scan import TEMP_DIRS, encodings, files_under, now, scan_bytes, scan_files

# What a client (an admin key reads them all) can read back from a deployment.
READABLE = (
    "/v1/usage", "/v1/account", "/v1/account/keys", "/v1/account/export",
    "/v1/admin/usage", "/v1/admin/audit", "/v1/admin/keys", "/v1/admin/accounts",
    "/v1/admin/teams", "/v1/policy-log", "/metrics", "/v1/models",
)


@dataclass(frozen=True, slots=True)
class Target:
    url: str  # the deployment's base URL, without /v1
    key: str
    data_dir: Path | None = None
    database_url: str | None = None
    redis_url: str | None = None
    log_files: Sequence[Path] = field(default_factory=tuple)

    @property
    def local(self) -> bool:
        host = urlsplit(self.url).hostname or ""
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


async def run_target_audit(target: Target, canary: str) -> AuditReport:
    report = AuditReport(canary)
    started = now()
    base = target.url.rstrip("/")
    needles = encodings(canary)
    async with aiohttp.ClientSession() as session:
        for probe in probes(canary):
            report.probes.append(await post_probe(session, base, probe, target.key))
        await _scan_readable(report, session, base, target.key, needles)
    _scan_local(report, target, needles)
    if target.local:
        for folder in TEMP_DIRS:
            if folder.is_dir():
                count, _, hits = scan_files(files_under(folder, started), needles)
                report.place("temp directory", f"{folder}: {count} files changed during the run",
                             hits)
    else:
        report.not_scanned.append("temp directories: the deployment is not on this host")
    report.not_scanned += [
        "worker crash: not probed (the audit cannot crash a remote process; run `zdrgate "
        "audit` on the deployment's host for it)",
        "core dumps of the serving process: not readable from outside",
    ]
    return report


async def _scan_readable(
    report: AuditReport, session: aiohttp.ClientSession, base: str, key: str,
    needles: dict[str, list[bytes]],
) -> None:
    headers = {"authorization": f"Bearer {key}"}
    read, refused = [], []
    for path in READABLE:
        try:
            async with session.get(base + path, headers=headers, timeout=TIMEOUT) as answer:
                body = await answer.read()
                status = answer.status
        except aiohttp.ClientError as exc:
            refused.append(f"{path} ({type(exc).__name__})")
            continue
        if status != 200:
            refused.append(f"{path} ({status})")
            continue
        read.append(path)
        report.place("API answers", f"GET {path}: {len(body)} bytes",
                     [(f"GET {path}", name) for name in scan_bytes(body, needles)])
    if refused:
        report.not_scanned.append("API answers this key may not read: " + ", ".join(refused))


def _scan_local(report: AuditReport, target: Target, needles: dict[str, list[bytes]]) -> None:
    if target.data_dir is not None:
        count, size, hits = scan_files(files_under(target.data_dir), needles)
        report.place("data directory", f"{target.data_dir}: {count} files, {size} bytes", hits)
    else:
        report.not_scanned.append("data directory: give --data-dir")
    if target.database_url:
        from zdrgate.audit.run import scan_database_at  # noqa: PLC0415 - loads the store

        scan_database_at(report, target.database_url, needles)
    else:
        report.not_scanned.append("database: give --database-url")
    if target.redis_url:
        keys, hits = scan_redis(target.redis_url, needles)
        report.place("redis", f"{keys} keys", hits)
    else:
        report.not_scanned.append("redis: give --redis-url (if the deployment uses Redis)")
    if target.log_files:
        count, size, hits = scan_files(iter(target.log_files), needles)
        report.place("log output", f"{count} log files, {size} bytes", hits)
    else:
        report.not_scanned.append("log output: give --log-file")
