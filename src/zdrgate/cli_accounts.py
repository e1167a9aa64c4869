"""The accounts' commands: ``zdrgate accounts`` and ``zdrgate teams``, and the helpers
the keys' commands share (``zdrgate.cli_keys``).

Kept apart from ``zdrgate.cli`` (which registers them). Every change goes through
:class:`zdrgate.accounts.admin.Admin` as the actor ``cli``, so it is in the admin
audit log like a change made over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson

from zdrgate.config import Settings, load_settings
from zdrgate.errors import ConfigError, GatewayError

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML config file (default: $ZDRGATE_CONFIG, else built-in defaults).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
UNSET = object()
KEY_COLUMNS = [
    "id",
    "name",
    "account_id",
    "team_id",
    "created_at",
    "last_used_day",
    "revoked_at",
    "expires_at",
    "models",
    "region",
    "rpm",
    "tpm",
    "budget_day_usd",
    "budget_month_usd",
]


def cap(kind: type[int] | type[float]) -> Any:
    """A click callback for a limit: a number, or ``none`` to lift it; UNSET when the
    option was not given."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return UNSET
        if value.lower() in ("none", "off"):
            return None
        try:
            number = kind(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a number (or 'none')") from None
        if number < 0:
            raise click.BadParameter("must not be negative")
        return number

    return convert


def limit_options(func: Any) -> Any:
    for name, kind, text in reversed(LIMIT_OPTIONS):
        func = click.option(f"--{name}", metavar="N|none", callback=cap(kind), help=text)(func)
    return func


LIMIT_OPTIONS = [
    ("rpm", int, "Requests per minute (none: no cap)."),
    ("tpm", int, "Tokens per minute (none: no cap)."),
    ("budget-day", float, "USD per UTC day (none: no cap)."),
    ("budget-month", float, "USD per UTC month (none: no cap)."),
]


def limit_changes(options: dict[str, Any]) -> dict[str, Any]:
    names = {
        "rpm": "rpm",
        "tpm": "tpm",
        "budget_day": "budget_day_usd",
        "budget_month": "budget_month_usd",
    }
    return {column: options[o] for o, column in names.items() if options.get(o, UNSET) is not UNSET}


@contextmanager
def admin_session(config: str | None) -> Iterator[Any]:
    """An :class:`Admin` acting as ``cli`` on the configured database; gateway errors
    become clean CLI errors."""
    from zdrgate.accounts import migrate  # noqa: PLC0415 - keep `zdrgate models` fast
    from zdrgate.accounts.admin import Admin  # noqa: PLC0415
    from zdrgate.accounts.epoch import epoch_for  # noqa: PLC0415
    from zdrgate.accounts.store import Store  # noqa: PLC0415

    settings = _settings(config)
    try:
        store = Store(settings.storage.database_url)
        # A revocation or deletion here stops the key in running gateways at once.
        storage = settings.storage
        store.on_credentials_changed(
            epoch_for(storage.redis_url, storage.data_dir, storage.redis_key_prefix).bump
        )
        migrate.prepare(store.engine, migrate_on_start=settings.storage.migrate_on_start)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield Admin(store, "cli")
    except GatewayError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        store.close()


def _settings(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from zdrgate.reports import render_table  # noqa: PLC0415

    click.echo(render_table(rows, columns))


def _public_url(config: str | None) -> str:
    server = _settings(config).server
    return server.public_url or f"http://{server.host}:{server.port}"


# accounts


@click.group()
def accounts() -> None:
    """People who sign in: create (by invite link), list, show, export, delete."""


@accounts.command("create")
@config_option
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make the account an admin.")
@click.option("--team", default=None, help="Add it to this team (created if missing).")
@click.option("--name", "display_name", default="", help="The person's display name.")
def accounts_create(
    config: str | None, email: str, admin: bool, team: str | None, display_name: str
) -> None:
    """Create an account and print its one-time invite link."""
    from zdrgate.accounts.admin import invite_link  # noqa: PLC0415

    with admin_session(config) as ops:
        if team:
            _ensure_team(ops, team)
        role = "admin" if admin else "member"
        _, token = ops.create_account(email, role=role, team=team, display_name=display_name)
    click.echo(invite_link(_public_url(config), token))
    click.echo("The link works once, for 7 days; send it to the person yourself.", err=True)


def _ensure_team(ops: Any, name: str) -> None:
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with ops.store.connect() as conn:
        exists = accounts_store.team_by_name(conn, name) is not None
    if not exists:
        ops.create_team(name)


@accounts.command("list")
@config_option
@json_option
def accounts_list(config: str | None, as_json: bool) -> None:
    """Every account: email, role, limits."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415
    from zdrgate.accounts.admin import account_view  # noqa: PLC0415

    with admin_session(config) as ops, ops.store.connect() as conn:
        rows = [account_view(a) for a in accounts_store.list_accounts(conn)]
    if as_json:
        echo_json(rows)
        return
    table(
        rows,
        ["id", "email", "role", "created_at", "rpm", "tpm", "budget_day_usd", "budget_month_usd"],
    )


@accounts.command("show")
@config_option
@click.argument("email")
@json_option
def accounts_show(config: str | None, email: str, as_json: bool) -> None:
    """One account, its teams and its keys (never a key's hash)."""
    from zdrgate.accounts import accounts_store, keys_store  # noqa: PLC0415
    from zdrgate.accounts.admin import account_view  # noqa: PLC0415

    with admin_session(config) as ops, ops.store.connect() as conn:
        account = accounts_store.require_account(conn, email)
        view = account_view(account, accounts_store.teams_of(conn, account.id))
        view["keys"] = [k.metadata() for k in keys_store.list_keys(conn, account.id)]
    if as_json:
        echo_json(view)
        return
    for name in (
        "id",
        "email",
        "display_name",
        "role",
        "created_at",
        "has_password",
        "rpm",
        "tpm",
        "budget_day_usd",
        "budget_month_usd",
    ):
        click.echo(f"{name}: {'-' if view[name] is None else view[name]}")
    click.echo(f"teams: {', '.join(t['name'] for t in view['teams']) or '-'}")
    click.echo("keys:")
    table(view["keys"], KEY_COLUMNS)


@accounts.command("limits")
@config_option
@click.argument("email")
@limit_options
def accounts_limits(config: str | None, email: str, **options: Any) -> None:
    """Set an account's rate limits and budgets (shared by all its keys)."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            account = accounts_store.require_account(conn, email)
        ops.update_account(account.id, limit_changes(options))
    click.echo(f"updated {account.id}")


@accounts.command("export")
@config_option
@click.argument("email")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file (mode 0600) instead of standard output.",
)
def accounts_export(config: str | None, email: str, out: Path | None) -> None:
    """Everything held about an account, as one JSON document (GDPR export)."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            account = accounts_store.require_account(conn, email)
        document = ops.export_account(account.id)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2)
    if out is None:
        click.echo(data.decode())
        return
    out.touch(mode=0o600)
    out.write_bytes(data)
    click.echo(f"wrote {out}", err=True)


@accounts.command("delete")
@config_option
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def accounts_delete(config: str | None, email: str, yes: bool) -> None:
    """Erase a person: keys and sessions stop at once, personal data is deleted, usage
    rows are kept without any link to them."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            account = accounts_store.require_account(conn, email)
        if not yes:
            click.confirm(f"Erase {account.email} and stop their keys?", abort=True)
        ops.delete_account(account.id)
    click.echo(f"erased {email}")


# teams


@click.group()
def teams() -> None:
    """Teams: accounts that share limits and budgets (keys may spend for a team)."""


@teams.command("list")
@config_option
@json_option
def teams_list(config: str | None, as_json: bool) -> None:
    """Every team with its limits and members' account ids."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415
    from zdrgate.accounts.admin import team_view  # noqa: PLC0415

    with admin_session(config) as ops, ops.store.connect() as conn:
        rows = [
            team_view(t, accounts_store.member_ids(conn, t.id))
            for t in accounts_store.list_teams(conn)
        ]
    if as_json:
        echo_json(rows)
        return
    table(rows, ["id", "name", "members", "rpm", "tpm", "budget_day_usd", "budget_month_usd"])


@teams.command("create")
@config_option
@click.argument("name")
def teams_create(config: str | None, name: str) -> None:
    """Create a team."""
    with admin_session(config) as ops:
        team = ops.create_team(name)
    click.echo(f"created {team.id}")


@teams.command("add")
@config_option
@click.argument("name")
@click.argument("email")
def teams_add(config: str | None, name: str, email: str) -> None:
    """Add an account to a team."""
    _membership(config, name, email, member=True)


@teams.command("remove")
@config_option
@click.argument("name")
@click.argument("email")
def teams_remove(config: str | None, name: str, email: str) -> None:
    """Remove an account from a team (its keys for the team stop spending for it)."""
    _membership(config, name, email, member=False)


def _membership(config: str | None, name: str, email: str, *, member: bool) -> None:
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            team = accounts_store.require_team(conn, name)
            account = accounts_store.require_account(conn, email)
        changed = ops.set_member(team.id, account.id, member=member)
    click.echo(("added" if member else "removed") if changed else "unchanged")


@teams.command("delete")
@config_option
@click.argument("name")
def teams_delete(config: str | None, name: str) -> None:
    """Delete a team; its members' keys stay, no longer spending for it."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            team = accounts_store.require_team(conn, name)
        ops.delete_team(team.id)
    click.echo(f"deleted {team.id}")


@teams.command("limits")
@config_option
@click.argument("name")
@limit_options
def teams_limits(config: str | None, name: str, **options: Any) -> None:
    """Set a team's rate limits and budgets (shared by the keys that spend for it)."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415

    with admin_session(config) as ops:
        with ops.store.connect() as conn:
            team = accounts_store.require_team(conn, name)
        ops.update_team(team.id, limit_changes(options))
    click.echo(f"updated {team.id}")
