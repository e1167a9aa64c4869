"""The keys' commands, ``zdrgate keys create|list|limits|expire|rotate|revoke``, and
``zdrgate usage``. Changes go through :class:`zdrgate.accounts.admin.Admin` as ``cli``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from zdrgate.cli_accounts import (
    KEY_COLUMNS,
    admin_session,
    config_option,
    echo_json,
    json_option,
    limit_changes,
    limit_options,
    table,
)


@click.group()
def keys() -> None:
    """Manage API keys (stored hashed; a new key is shown once)."""


@keys.command("create")
@config_option
@click.option("--name", default="", help="A label for the key.")
@click.option("--account", "email", default=None, help="The account that owns the key.")
@click.option("--team", default=None, help="A team of the owner the key spends for.")
@click.option("--models", default=None, help="Comma-separated model ids the key may use.")
@click.option("--region", default=None, help="Only endpoints in this region (e.g. eu).")
@click.option("--no-images", is_flag=True, help="The key may not generate images.")
@click.option(
    "--expires",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Stops working at the start of this UTC day.",
)
@click.option("--admin", is_flag=True, help="Give the key admin rights.")
@limit_options
def keys_create(config: str | None, **options: Any) -> None:
    """Create an API key and print it once."""
    with admin_session(config) as ops:
        key, _ = ops.create_key(_key_spec(ops, options))
    click.echo(key.plaintext)


def _key_spec(ops: Any, options: dict[str, Any]) -> Any:
    from zdrgate.accounts import accounts_store  # noqa: PLC0415
    from zdrgate.accounts.keys import Limits  # noqa: PLC0415
    from zdrgate.accounts.keys_store import KeySpec  # noqa: PLC0415

    with ops.store.connect() as conn:
        account = (
            accounts_store.require_account(conn, options["email"]) if options["email"] else None
        )
        team = accounts_store.require_team(conn, options["team"]) if options["team"] else None
    limits = {k: v for k, v in limit_changes(options).items() if v is not None}
    expires = options["expires"]
    return KeySpec(
        name=options["name"],
        is_admin=options["admin"],
        account_id=account.id if account else None,
        team_id=team.id if team else None,
        expires_at=expires.replace(tzinfo=dt.UTC) if expires else None,
        models=parse_models(options["models"]),
        region=options["region"].strip().lower() if options["region"] else None,
        images_allowed=not options["no_images"],
        limits=Limits(**limits),
    )


def parse_models(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    models = frozenset(m.strip() for m in text.split(",") if m.strip())
    if not models:
        raise click.BadParameter("name at least one model id", param_hint="--models")
    return models


@keys.command("list")
@config_option
@click.option("--account", "email", default=None, help="Only this account's keys.")
@json_option
def keys_list(config: str | None, email: str | None, as_json: bool) -> None:
    """Keys: id (the part after 'zdr-'), name, owner, created, last used day. No hash."""
    from zdrgate.accounts import accounts_store, keys_store  # noqa: PLC0415

    with admin_session(config) as ops, ops.store.connect() as conn:
        owner = accounts_store.require_account(conn, email).id if email else None
        rows = [k.metadata() for k in keys_store.list_keys(conn, owner)]
    if as_json:
        echo_json(rows)
        return
    table(rows, KEY_COLUMNS)


@keys.command("limits")
@config_option
@click.argument("key_id")
@limit_options
def keys_limits(config: str | None, key_id: str, **options: Any) -> None:
    """Set a key's rate limits and budgets."""
    with admin_session(config) as ops:
        ops.update_key(key_id, limit_changes(options))
    click.echo(f"updated {key_id}")


@keys.command("expire")
@config_option
@click.argument("key_id")
@click.argument("when", metavar="DAY|now|never")
def keys_expire(config: str | None, key_id: str, when: str) -> None:
    """Set when a key stops working: the start of a UTC day, now, or never."""
    if when == "never":
        expires = None
    elif when == "now":
        expires = dt.datetime.now(dt.UTC)
    else:
        try:
            expires = dt.datetime.combine(dt.date.fromisoformat(when), dt.time(), dt.UTC)
        except ValueError:
            raise click.BadParameter("a day YYYY-MM-DD, 'now' or 'never'") from None
    with admin_session(config) as ops:
        ops.update_key(key_id, {"expires_at": expires})
    click.echo(f"{key_id} expires {expires.isoformat() if expires else 'never'}")


@keys.command("rotate")
@config_option
@click.argument("key_id")
def keys_rotate(config: str | None, key_id: str) -> None:
    """Give a key a new secret (printed once); the old one stops working."""
    with admin_session(config) as ops:
        key = ops.rotate_key(key_id)
    click.echo(key.plaintext)


@keys.command("revoke")
@config_option
@click.argument("key_id")
def keys_revoke(config: str | None, key_id: str) -> None:
    """Revoke a key by its id (the part after 'zdr-')."""
    with admin_session(config) as ops:
        if not ops.revoke_key(key_id):
            raise click.ClickException(f"no active key with id {key_id!r}")
    click.echo(f"revoked {key_id}")


# usage


@click.command()
@config_option
@click.option("--account", "email", default=None, help="Only this account.")
@click.option("--key", "key_id", default=None, help="Only this key.")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this UTC day on."
)
@json_option
def usage(
    config: str | None,
    email: str | None,
    key_id: str | None,
    since: dt.datetime | None,
    as_json: bool,
) -> None:
    """Usage by day and model: requests, tokens, images, cost, errors. No content."""
    from zdrgate.accounts import accounts_store  # noqa: PLC0415
    from zdrgate.accounts.usage_report import UsageFilter, usage_by_day  # noqa: PLC0415

    with admin_session(config) as ops, ops.store.connect() as conn:
        account = accounts_store.require_account(conn, email).id if email else None
        where = UsageFilter(account, key_id, since.date() if since else None)
        rows = usage_by_day(conn, where)
    if as_json:
        echo_json(rows)
        return
    table(
        rows,
        [
            "day",
            "model",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "images",
            "cost_usd",
            "errors",
        ],
    )
