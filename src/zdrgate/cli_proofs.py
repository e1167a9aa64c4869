"""The proofs' commands: ``zdrgate receipt verify`` and ``zdrgate receipt rotate-key``.

Kept apart from ``zdrgate.cli`` (which registers them) so that each concept stays
one module.
"""

from __future__ import annotations

from pathlib import Path

import click
import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zdrgate.audit.report import AuditReport
from zdrgate.config import Settings, load_settings
from zdrgate.errors import ConfigError
from zdrgate.receipts import (
    NoReceipt,
    Verification,
    keys_of_jwks,
    known_keys,
    listed_keys,
    receipt_in_exchange,
    receipt_in_stream,
    rotate_generated_key,
    verify_receipt,
)

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file (default: $ZDRGATE_CONFIG, else built-in defaults).",
)
_file = click.Path(exists=True, dir_okay=False, path_type=Path)


def settings_of(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def receipt() -> None:
    """Check signed privacy receipts; rotate the signing key."""


@receipt.command("verify")
@config_option
@click.argument("token", required=False)
@click.option("--exchange", type=_file, help="A saved HTTP response (curl -si) carrying a receipt.")
@click.option("--request", "request_file", type=_file, help="The request body that was sent.")
@click.option("--response", "response_file", type=_file, help="The response body received.")
@click.option("--jwks", type=_file, help="A saved JWKS (default: this deployment's key history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def receipt_verify(
    config: str | None,
    token: str | None,
    exchange: Path | None,
    request_file: Path | None,
    response_file: Path | None,
    jwks: Path | None,
    as_json: bool,
) -> None:
    """Verify a receipt (TOKEN, or the one in --exchange or in a streamed --response).

    Exit 0 when the signature holds and every body given matches; 1 otherwise.
    """
    token, response = _token_and_response(token, exchange, response_file)
    request = request_file.read_bytes() if request_file else None
    try:
        keys = keys_of_jwks(jwks.read_bytes()) if jwks else _local_keys(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    result = verify_receipt(token, keys, request, response)
    click.echo(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode()
               if as_json else _text(result))
    if not result.ok:
        raise SystemExit(1)


def _token_and_response(
    token: str | None, exchange: Path | None, response_file: Path | None
) -> tuple[str, bytes | None]:
    response = response_file.read_bytes() if response_file else None
    try:
        if exchange is not None:
            found, covered = receipt_in_exchange(exchange.read_bytes())
            return token or found, covered
        if token is None and response is not None:
            return receipt_in_stream(response)
    except NoReceipt as exc:
        raise click.ClickException(str(exc)) from None
    if token is None:
        raise click.UsageError("give a TOKEN, --exchange, or a streamed --response")
    return token, response


def _local_keys(config: str | None) -> dict[str, Ed25519PublicKey]:
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    settings = settings_of(config)
    store = Store(settings.storage.database_url)
    try:
        keys = listed_keys(settings.receipts, store.engine)
    except sa.exc.SQLAlchemyError:
        keys = {}
    finally:
        store.close()
    if not keys:
        raise click.ClickException(
            "no receipt keys in the deployment's database (pass --jwks with the "
            "deployment's /.well-known/jwks.json)"
        )
    return keys


def _text(result: Verification) -> str:
    lines = [f"receipt: {'VALID' if result.ok else 'INVALID'}"]
    lines += [f"  {name}: {state}" for name, state in result.checks.items()]
    if result.claims:
        for name in ("jti", "model", "endpoint", "policy", "verified_on", "iat"):
            lines.append(f"  {name} = {result.claims.get(name)}")
    lines += [f"  problem: {p}" for p in result.problems]
    return "\n".join(lines)


@receipt.command("rotate-key")
@config_option
def receipt_rotate_key(config: str | None) -> None:
    """Replace the generated signing key. Restart the gateway to sign with the new
    key; the old one stays in every instance's JWKS for receipts.lifetime_days."""
    settings = settings_of(config)
    if settings.receipts.signing_key_file:
        raise click.ClickException(
            "the signing key is the operator's (receipts.signing_key_file): replace that file"
        )
    data_dir = Path(settings.storage.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"new signing key {rotate_generated_key(data_dir)}")


@click.group("policy-log")
def policy_log() -> None:
    """The policy transparency log (hash-chained, signed)."""


@policy_log.command("verify")
@config_option
@click.option("--file", "saved", type=_file, help="A saved GET /v1/policy-log answer.")
@click.option("--jwks", type=_file, help="A saved JWKS (default: every key this deployment used).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def policy_log_verify(
    config: str | None, saved: Path | None, jwks: Path | None, as_json: bool
) -> None:
    """Check every entry's hash, its link to the previous entry, and its signature.

    Reads the deployment's database, or --file. Exit 0 when the chain holds; 1 otherwise.
    """
    from zdrgate.accounts.store import Store  # noqa: PLC0415
    from zdrgate.policylog import PolicyLog, verify_chain  # noqa: PLC0415

    settings = settings_of(config)
    engine = Store(settings.storage.database_url).engine
    try:
        keys = keys_of_jwks(jwks.read_bytes()) if jwks else known_keys(engine)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if saved is not None:
        rows = orjson.loads(saved.read_bytes()).get("data", [])
    else:
        rows = [e.as_json() for e in PolicyLog(engine).entries()]
    report = verify_chain(rows, keys)
    if as_json:
        click.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        state = "INTACT" if report.ok else "BROKEN"
        click.echo(f"policy log: {state}, {report.entries} entries, head {report.head}")
        for problem in report.problems:
            click.echo(f"  {problem}")
    if not report.ok:
        raise SystemExit(1)


@click.command("audit")
@config_option
@click.option("--log-file", "log_files", multiple=True, type=_file,
              help="Also scan this log file of the deployment (repeatable).")
@click.option("--no-crash-probe", is_flag=True,
              help="Skip the probe that kills a serving process mid-stream (it starts one).")
@click.option("--target", default=None, metavar="URL",
              help="Probe this running deployment (it must route the audit's models to "
                   "`zdrgate audit-fakes`) instead of an in-process gateway.")
@click.option("--key", envvar="ZDRGATE_AUDIT_KEY", default=None,
              help="With --target: an API key of the deployment (an admin key lets the "
                   "audit read back usage, admin and metrics answers). $ZDRGATE_AUDIT_KEY.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --target: the deployment's data directory, if readable here.")
@click.option("--database-url", default=None, help="With --target: the deployment's database.")
@click.option("--redis-url", default=None, help="With --target: the deployment's Redis.")
@click.option("--canary", default=None, hidden=True, help="Use this canary (tests).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report.")
def audit(
    config: str | None,
    log_files: tuple[Path, ...],
    no_crash_probe: bool,
    target: str | None,
    key: str | None,
    data_dir: Path | None,
    database_url: str | None,
    redis_url: str | None,
    canary: str | None,
    as_json: bool,
) -> None:
    """Send canary prompts through every route and mode (against built-in loopback
    fakes), kill a serving process mid-stream, then scan the data directory, the
    database, Redis, the logs, temp directories and the core-dump settings for them.
    With --target, probe a running deployment instead and scan what can be read from
    here; the report names every place it could not scan. Exit 1 on any hit or
    problem."""
    import asyncio  # noqa: PLC0415

    from zdrgate.audit.run import new_canary, run_audit  # noqa: PLC0415 - a whole gateway

    if target is not None:
        if not key:
            raise click.UsageError("--target needs --key (or $ZDRGATE_AUDIT_KEY)")
        from zdrgate.audit.target import Target, run_target_audit  # noqa: PLC0415

        storage = settings_of(config).storage if config else None
        aim = Target(target, key, data_dir or (Path(storage.data_dir) if storage else None),
                     database_url or (storage.database_url if storage else None),
                     redis_url or (storage.redis_url if storage else None), log_files)
        _print_report(asyncio.run(run_target_audit(aim, canary or new_canary())), as_json)
        return
    settings = settings_of(config)
    try:
        report = asyncio.run(run_audit(settings, canary=canary, log_files=log_files,
                                       crash=not no_crash_probe))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    _print_report(report, as_json)


@click.command("audit-fakes")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on: loopback, or a private address the deployment "
                   "reaches (plain http is accepted only there).")
@click.option("--port", type=int, default=0, help="Port (default: a free one).")
def audit_fakes(host: str, port: int) -> None:
    """Serve the audit's fake providers and print the providers to add to a (staging)
    deployment's config, for `zdrgate audit --target`. Runs until stopped."""
    import asyncio  # noqa: PLC0415

    from zdrgate.audit.fakes import serve_fakes  # noqa: PLC0415
    from zdrgate.audit.providers import providers_toml  # noqa: PLC0415
    from zdrgate.audit.run import fake_providers  # noqa: PLC0415

    async def serve() -> None:
        async with serve_fakes(port, host) as base_url:
            click.echo(f"# zdrgate audit fakes on {base_url}: add to the deployment's config\n")
            click.echo(providers_toml(fake_providers(base_url)), nl=False)
            click.echo("# ready", err=True)
            await asyncio.Event().wait()

    asyncio.run(serve())


def _print_report(report: AuditReport, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(f"probes: {len(report.probes)} requests through every route and mode")
        for probe in report.probes:
            for event in probe.events:
                click.echo(f"  {probe.name}: {event}")
        for place in report.places:
            click.echo(f"  {place['place']}: {place['scanned']} -> {place['hits']} hits")
        for missing in report.not_scanned:
            click.echo(f"NOT SCANNED {missing}")
        for hit in report.hits:
            click.echo(f"HIT {hit['place']}: {hit['where']} ({hit['encoding']})")
        for problem in report.problems + report.off_path():
            click.echo(f"PROBLEM {problem}")
        click.echo("audit: " + ("clean" if report.ok else "FAILED"))
    if not report.ok:
        raise SystemExit(1)
