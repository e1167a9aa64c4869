"""``zdrgate audit``: send canaries through the whole pipeline, then look for them
everywhere the gateway writes.

Usage::

    report = asyncio.run(run_audit(settings, log_files=[Path("/var/log/zdrgate.log")]))
    report.ok          # False on any hit or problem
    report.as_json()

The gateway runs in-process with the operator's storage settings (data directory,
database, Redis, receipt keys) and the built-in loopback fakes as its only providers
(:mod:`zdrgate.audit.fakes`); the probes (:mod:`zdrgate.audit.probes`) cover every
route and mode. Then the data directory, the database (every row, and SQLite's files
byte by byte, free pages included), Redis keys, the log records of the run and any
``log_files``, and files changed in the temp directories during the run are scanned
for the canary (:mod:`zdrgate.audit.scan`), and core dumps must be off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zdrgate.audit.crash import crash_probe
from zdrgate.audit.fakes import serve_fakes
from zdrgate.audit.places import LogCapture, scan_database, scan_redis
from zdrgate.audit.probes import probes, running, send_probe
from zdrgate.audit.report import AuditReport
from zdrgate.audit.scan import TEMP_DIRS, encodings, files_under, now, scan_bytes, scan_files
from zdrgate.catalog.model import Catalog
from zdrgate.config import Settings
from zdrgate.process import core_dump_state, disable_core_dumps


def new_canary() -> str:
    # An ASCII token (found raw in any escaping) plus characters that JSON and URL
    # encoding change, so the encoded forms are searched for as well.
    return f"zdrcanary{secrets.token_hex(12)}-é\"<&>"


def fake_providers(base_url: str) -> dict[str, Any]:
    """The audit's providers: every model id the probes ask for, on the fakes."""
    policy = {"retention_days": 0, "trains_on_data": False,
              "evidence": "https://example.invalid/audit", "verified_on": dt.date.today()}
    models = {
        "openai": [("audit/openai", "echo", ["text", "image"], ["text"]),
                   ("audit/error", "error-echo", ["text"], ["text"]),
                   ("audit/crash", "crash-echo", ["text"], ["text"]),
                   ("audit/die", "die", ["text"], ["text"]),
                   ("audit/hold", "hold", ["text"], ["text"]),
                   ("audit/image", "gpt-image-1", ["text"], ["image"]),
                   ("audit/embed", "embed", ["text"], ["embeddings"])],
        "anthropic": [("audit/anthropic", "echo", ["text"], ["text"])],
        "gemini": [("audit/gemini", "echo", ["text"], ["text"])],
        "azure-openai": [("audit/azure-openai", "echo", ["text"], ["text"])],
        "bedrock": [("audit/bedrock", "echo", ["text"], ["text"])],
    }
    providers = {
        f"audit-{protocol}": {
            "protocol": protocol, "base_url": base_url, "api_key": "audit-upstream-key",
            "policy": policy,
            "models": [{"id": i, "upstream_id": u, "input_modalities": inp,
                        "output_modalities": out} for i, u, inp, out in rows],
        }
        for protocol, rows in models.items()
    }
    return providers


def audit_settings(settings: Settings, base_url: str) -> Settings:
    """The operator's settings with the fakes as the only providers."""
    return Settings.model_validate({**settings.model_dump(), "providers": fake_providers(base_url)})


async def run_audit(
    settings: Settings,
    *,
    canary: str | None = None,
    log_files: Iterable[Path] = (),
    crash: bool = True,
) -> AuditReport:
    from zdrgate.server.app import app_for, build_state  # noqa: PLC0415 - heavy

    report = AuditReport(canary or new_canary())
    started = now()
    capture = LogCapture.install()
    work = Path(tempfile.mkdtemp(prefix="zdrgate-audit-"))
    logs = list(log_files)
    try:
        async with serve_fakes() as base_url:
            key = "zdr-audit-" + secrets.token_urlsafe(24)
            audited = audit_settings(settings, base_url)
            if crash:
                logs.append(await _crash(report, audited, key, work))
            else:
                report.not_scanned.append("worker crash: not probed (--no-crash-probe)")
            disable_core_dumps(keep_hard_limit=True)  # off here; a later crash probe raises it
            state = build_state(audited, catalog=Catalog({}, {}),
                                environ={"ZDRGATE_MASTER_KEY": key})
            # The fakes are no policy change of the deployment: keep them out of its log.
            state = dataclasses.replace(state, log_policy_changes=False)
            app = app_for(state)
            async with running(app):
                for probe in probes(report.canary):
                    report.probes.append(await send_probe(app, probe, key))
            state.store.close()
        _scan(report, settings, capture.text(), logs, started)
    finally:
        capture.remove()
        shutil.rmtree(work, ignore_errors=True)
    return report


async def _crash(report: AuditReport, audited: Settings, key: str, work: Path) -> Path:
    outcome = await crash_probe(audited, report.canary, key, work)
    report.probes.append(outcome.result)
    report.problems += outcome.problems
    report.crash = outcome.facts
    return outcome.log_file


def _scan(
    report: AuditReport, settings: Settings, logs: bytes, log_files: list[Path], since: float
) -> None:
    needles = encodings(report.canary)
    data_dir = Path(settings.storage.data_dir).resolve()
    count, size, hits = scan_files(files_under(data_dir), needles)
    report.place("data directory", f"{data_dir}: {count} files, {size} bytes", hits)
    scan_database_at(report, settings.storage.database_url, needles)
    if settings.storage.redis_url:
        keys, hits = scan_redis(settings.storage.redis_url, needles)
        report.place("redis", f"{keys} keys", hits)
    log_hits = [("log records of the run", name) for name in scan_bytes(logs, needles)]
    count, size, file_hits = scan_files(iter(log_files), needles)
    report.place("log output", f"{len(logs)} bytes of records, {count} log files", log_hits
                 + file_hits)
    for folder in TEMP_DIRS:
        if folder.is_dir():
            count, size, hits = scan_files(files_under(folder, since), needles)
            report.place("temp directory", f"{folder}: {count} files changed during the run",
                         hits)
    core = core_dump_state()
    report.places.append({"place": "core dumps", "scanned": str(core), "hits": 0})
    if not core["off"]:
        report.problems.append(f"core dumps are not off for the serving process: {core}")


def scan_database_at(
    report: AuditReport, database_url: str, needles: dict[str, list[bytes]]
) -> None:
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    store = Store(database_url)
    try:
        rows, hits = scan_database(store.engine, needles)
        report.place("database", f"{store.engine.dialect.name}: {rows} rows", hits)
        path = store.engine.url.database
        if store.engine.dialect.name == "sqlite" and path:
            files = [Path(path + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
            count, size, hits = scan_files(iter(p for p in files if p.is_file()), needles)
            report.place("database files", f"{count} files, {size} bytes", hits)
    finally:
        store.close()
