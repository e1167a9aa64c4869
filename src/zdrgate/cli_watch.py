"""``zdrgate catalog watch`` and ``zdrgate catalog verify``: evidence watch on the
command line (registered on the ``catalog`` group by ``zdrgate.cli``).

Run it on a schedule, e.g. daily from cron::

    17 4 * * *  zdrgate catalog watch --config /etc/zdrgate.toml --json >> watch.jsonl
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.cli_proofs import config_option, settings_of
from zdrgate.config import Settings
from zdrgate.errors import ConfigError
from zdrgate.policy import PolicyEngine
from zdrgate.policylog import PolicyLog
from zdrgate.receipts import KeyRing, load_key_ring, share_history
from zdrgate.reports import render_table
from zdrgate.upstream import Dispatcher
from zdrgate.watch import WatchReport, evidence_urls, reverify, under_review, watch_evidence


def _catalog(settings: Settings) -> Catalog:
    try:
        return build_catalog(load_packaged_catalog(), settings, os.environ, dt.date.today())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _log_and_keys(settings: Settings) -> tuple[PolicyLog, KeyRing]:
    from zdrgate.accounts import migrate  # noqa: PLC0415 - loads Alembic
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    store = Store(settings.storage.database_url)
    try:
        migrate.prepare(store.engine, migrate_on_start=settings.storage.migrate_on_start)
        ring = load_key_ring(settings.receipts, Path(settings.storage.data_dir), os.environ)
        share_history(ring, store.engine, Path(settings.storage.data_dir))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return PolicyLog(store.engine), ring


@click.command("watch")
@config_option
@click.option("--provider", "providers", multiple=True, help="Only this provider (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
def catalog_watch(config: str | None, providers: tuple[str, ...], as_json: bool) -> None:
    """Fetch each provider's evidence pages, compare with the log, log changes.

    A changed page marks the provider "needs review" in the policy log (and, with
    evidence.on_change = "suspend", makes it unroutable until `zdrgate catalog verify`).
    """
    settings = settings_of(config)
    catalog = _catalog(settings)
    log, ring = _log_and_keys(settings)
    total = sum(len(u) for u in evidence_urls(catalog, providers).values())
    timeout = settings.evidence.timeout_seconds
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(length=total, label="evidence pages", file=sys.stderr) as bar:
            report = asyncio.run(_watch(catalog, log, ring, providers, timeout, bar.update))
    else:
        report = asyncio.run(_watch(catalog, log, ring, providers, timeout, None))
    _print(report, as_json)


async def _watch(
    catalog: Catalog,
    log: PolicyLog,
    ring: KeyRing,
    providers: tuple[str, ...],
    timeout: float,
    step: Any,
) -> WatchReport:
    dispatcher = Dispatcher(timeout, timeout)
    await dispatcher.start()
    try:
        return await watch_evidence(
            catalog, dispatcher, log, ring, only=providers,
            progress=(lambda url: step(1)) if step else (lambda url: None),
        )
    finally:
        await dispatcher.close()


def _print(report: WatchReport, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
        return
    rows = [
        {"provider": p.provider, "outcome": p.outcome, "pages": len(p.pages),
         "problems": ", ".join(f"{x.url}: {x.status}" for x in p.pages if x.status != "ok")
         or "-"}
        for p in report.providers
    ]
    click.echo(render_table(rows, ["provider", "outcome", "pages", "problems"]))
    summary = report.as_json()["summary"]
    click.echo(", ".join(f"{v} {k}" for k, v in summary.items()), err=True)


@click.command("verify")
@config_option
@click.argument("provider")
@click.option("--evidence", required=True, help="What was reviewed (URL, document, reference).")
def catalog_verify(config: str | None, provider: str, evidence: str) -> None:
    """Record an admin's review of PROVIDER's changed evidence: routable again."""
    settings = settings_of(config)
    catalog = _catalog(settings)
    if provider not in catalog.providers:
        raise click.ClickException(f"no provider {provider!r} in the catalog")
    log, ring = _log_and_keys(settings)
    if provider not in under_review(log):
        raise click.ClickException(f"{provider} has no evidence change awaiting review")
    reverify(catalog, log, ring, provider, evidence)
    click.echo(f"{provider}: evidence re-verified; logged")


def suspended_engine(settings: Settings) -> PolicyEngine:
    """A policy engine that knows the providers under review, as `serve` would."""
    engine = PolicyEngine(settings.policy.max_verification_age_days)
    if settings.evidence.on_change == "suspend":
        log, _ = _log_and_keys(settings)
        engine.suspend(under_review(log))
    return engine
