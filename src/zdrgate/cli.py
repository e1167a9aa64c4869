"""The ``zdrgate`` command line: serve, models, explain, keys."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import click
import orjson

from zdrgate.catalog.load import load_packaged_catalog
from zdrgate.catalog.merge import build_catalog
from zdrgate.catalog.model import Catalog
from zdrgate.config import Settings, load_settings
from zdrgate.errors import ConfigError
from zdrgate.policy import PolicyEngine
from zdrgate.reports import explain_rows, model_rows, render_table


def _settings(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _catalog(settings: Settings) -> Catalog:
    try:
        return build_catalog(load_packaged_catalog(), settings, os.environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file (default: $ZDRGATE_CONFIG, else built-in defaults).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zdrgate")
def main() -> None:
    """zdrgate: an OpenAI-compatible gateway that only routes to zero-data-retention endpoints."""


@main.command()
@config_option
@click.option("--host", default=None, help="Address to bind (default from config: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to bind (default from config: 8080).")
@click.option(
    "--workers",
    type=int,
    default=1,
    show_default=True,
    help="Worker processes; they share the database and data directory, and with "
    "storage.redis_url also limits and endpoint health.",
)
def serve(config: str | None, host: str | None, port: int | None, workers: int) -> None:
    """Run the gateway (HTTP API on /v1)."""
    from zdrgate.server.run import run  # noqa: PLC0415 - keep `zdrgate models` fast

    settings = _settings(config)
    try:
        run(settings, host=host, port=port, workers=workers, config_path=config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@config_option
def migrate(config: str | None) -> None:
    """Bring the database schema up to date, then exit.

    Run once per release when several instances share one database (the Kubernetes
    migration Job does); a single `serve` migrates its own database at start."""
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    settings = _settings(config)
    try:
        store = Store(settings.storage.database_url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        before, after = store.migrate()
    finally:
        store.close()
    if before == after:
        click.echo(f"schema is up to date (revision {after})")
    else:
        click.echo(f"schema migrated from {before or 'an empty database'} to revision {after}")


@main.command()
@config_option
@click.option("--all", "show_all", is_flag=True, help="Also list models with no ZDR endpoint.")
@click.option("--zdr-only", is_flag=True, help="Only models routable right now (credentials set).")
@click.option("--provider", default=None, help="Only models with an endpoint at this provider.")
@click.option(
    "--modality",
    default=None,
    help="Only models with this output modality (text, image, embeddings).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(
    config: str | None,
    show_all: bool,
    zdr_only: bool,
    provider: str | None,
    modality: str | None,
    as_json: bool,
) -> None:
    """List models: ZDR endpoints, cheapest ZDR price, retention of standard endpoints."""
    settings = _settings(config)
    catalog = _catalog(settings)
    engine = PolicyEngine(settings.policy.max_verification_age_days)
    rows = model_rows(
        catalog,
        engine,
        dt.date.today(),
        show_all=show_all,
        zdr_only=zdr_only,
        provider=provider,
        modality=modality,
    )
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    columns = [
        "id",
        "zdr_endpoints",
        "routable_endpoints",
        "cheapest_zdr_prompt",
        "cheapest_zdr_completion",
        "standard_retention_days",
    ]
    click.echo(render_table(rows, columns))
    click.echo(f"{len(rows)} models", err=True)


@main.command()
@config_option
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def explain(config: str | None, model: str, as_json: bool) -> None:
    """Why each endpoint of MODEL is or is not routable."""
    settings = _settings(config)
    catalog = _catalog(settings)
    found = catalog.model(model)
    if found is None:
        raise click.ClickException(
            f"model {model!r} is not in the catalog (see `zdrgate models --all`)"
        )
    from zdrgate.cli_watch import suspended_engine  # noqa: PLC0415

    engine = suspended_engine(settings)  # knows providers whose evidence awaits review
    rows = explain_rows(found, engine, dt.date.today())
    if as_json:
        payload: dict[str, Any] = {"model": found.id, "endpoints": rows}
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(
        render_table(
            rows,
            [
                "endpoint",
                "protocol",
                "routable",
                "retention_days",
                "trains_on_data",
                "zdr",
                "verified_on",
                "reasons",
            ],
        )
    )


@main.group()
def catalog() -> None:
    """Review the catalog's policy records."""


@catalog.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def catalog_check(config: str | None, as_json: bool) -> None:
    """Records that are stale, unknown, low-confidence or whose sources conflict."""
    from zdrgate.catalog.check import check_catalog  # noqa: PLC0415

    settings = _settings(config)
    findings = check_catalog(
        _catalog(settings), dt.date.today(), settings.policy.max_verification_age_days
    )
    rows = [
        {
            "kind": f.kind.value,
            "record": f.policy,
            "providers": list(f.providers),
            "message": f.message,
        }
        for f in findings
    ]
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(render_table(rows, ["kind", "record", "providers", "message"]))
    click.echo(f"{len(rows)} findings", err=True)


def _register_accounts() -> None:
    from zdrgate.cli_accounts import accounts, teams  # noqa: PLC0415
    from zdrgate.cli_keys import keys, usage  # noqa: PLC0415

    for command in (accounts, teams, keys, usage):
        main.add_command(command)


_register_accounts()


def _register_proofs() -> None:
    from zdrgate.cli_proofs import audit, audit_fakes, policy_log, receipt  # noqa: PLC0415
    from zdrgate.cli_watch import catalog_verify, catalog_watch  # noqa: PLC0415

    main.add_command(receipt)
    main.add_command(policy_log)
    main.add_command(audit)
    main.add_command(audit_fakes)
    catalog.add_command(catalog_watch)
    catalog.add_command(catalog_verify)
    from zdrgate.cli_deploy import deploy, egress_proxy  # noqa: PLC0415

    main.add_command(deploy)
    main.add_command(egress_proxy)


_register_proofs()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
