"""Database tables, as SQLAlchemy Core sees them. Only metadata: no column can hold a
prompt, a completion or an image.

The tables are made by the Alembic revisions in ``zdrgate/accounts/migrations``, not
by ``create_all``; ``tests/unit/test_migrations.py`` checks that both agree.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TZ = sa.DateTime(timezone=True)


def _limits() -> list[sa.Column[object]]:
    """Caps of a key, an account or a team (``keys.Limits``); NULL means no cap."""
    return [
        sa.Column("rpm", sa.Integer, nullable=True),
        sa.Column("tpm", sa.Integer, nullable=True),
        sa.Column("budget_day_usd", sa.Float, nullable=True),
        sa.Column("budget_month_usd", sa.Float, nullable=True),
    ]


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random hex, never the email
    sa.Column("email", sa.String(320), nullable=False),  # stored lower-cased
    sa.Column("display_name", sa.String(128), nullable=False, default=""),
    sa.Column("role", sa.String(16), nullable=False),  # admin | member
    sa.Column("password_hash", sa.String(256), nullable=True),  # argon2id; NULL: none set
    sa.Column("created_at", TZ, nullable=False),
    *_limits(),
    sa.UniqueConstraint("email", name="uq_accounts_email"),
    sa.CheckConstraint("role in ('admin', 'member')", name="ck_accounts_role"),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    *_limits(),
    sa.UniqueConstraint("name", name="uq_teams_name"),
)

team_memberships = sa.Table(
    "team_memberships",
    metadata,
    sa.Column("team_id", sa.String(32), sa.ForeignKey("teams.id"), primary_key=True),
    sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("created_at", TZ, nullable=False),
    sa.Index("ix_team_memberships_account_id", "account_id"),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 hex; token never stored
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("team_id", sa.String(32), sa.ForeignKey("teams.id"), nullable=True),
    # Set when an admin made the account first (`accounts create`): redeeming signs it in.
    sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("expires_at", TZ, nullable=False),
    sa.Column("used_at", TZ, nullable=True),
    sa.Index("ix_invites_account_id", "account_id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 hex of the cookie value
    # An account's session, or (account_id NULL) one opened with an API key (key_id).
    sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("expires_at", TZ, nullable=False),
    sa.Column("revoked_at", TZ, nullable=True),
    sa.Column("key_id", sa.String(32), nullable=True),
    sa.Index("ix_sessions_account_id", "account_id"),
    sa.Index("ix_sessions_key_id", "key_id"),
)

passkey_credentials = sa.Table(
    "passkey_credentials",
    metadata,
    sa.Column("credential_id", sa.String(1400), primary_key=True),  # base64url
    sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # COSE key
    sa.Column("sign_count", sa.Integer, nullable=False, default=0),
    sa.Column("transports", sa.Text, nullable=True),  # JSON list
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("last_used_at", TZ, nullable=True),
    sa.Index("ix_passkey_credentials_account_id", "account_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of the secret
    sa.Column("name", sa.String(128), nullable=False, default=""),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TZ, nullable=False),
    sa.Column("revoked_at", TZ, nullable=True),
    sa.Column("account_id", sa.String(32), nullable=True),  # owner; NULL: an operator key
    sa.Column("team_id", sa.String(32), nullable=True),  # the team the key spends for
    sa.Column("expires_at", TZ, nullable=True),
    sa.Column("last_used_day", sa.Date, nullable=True),  # a day, not a time: less to track
    sa.Column("models", sa.Text, nullable=True),  # JSON list of model ids; NULL: every model
    sa.Column("region", sa.String(32), nullable=True),  # e.g. "eu"; NULL: any region
    sa.Column("images_allowed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("provider_prefs", sa.Text, nullable=True),  # JSON: default `provider` object
    *_limits(),
    sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_api_keys_account_id"),
    sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name="fk_api_keys_team_id"),
    sa.Index("ix_api_keys_account_id", "account_id"),
)

usage = sa.Table(
    "usage",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_id", sa.String(32), nullable=False, index=True),
    sa.Column("started_at", TZ, nullable=False, index=True),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("model", sa.String(256), nullable=False),
    sa.Column("endpoint", sa.String(512), nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("error_kind", sa.String(64), nullable=True),
    sa.Column("stream", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
    sa.Column("latency_ms", sa.Float, nullable=False),
    # No foreign keys: a row outlives its key and account (erasure unlinks it).
    sa.Column("account_id", sa.String(32), nullable=True, index=True),
    sa.Column("team_id", sa.String(32), nullable=True, index=True),
    sa.Column("images", sa.Integer, nullable=False, server_default="0"),
)

admin_audit = sa.Table(
    "admin_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TZ, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # "account:<id>", "key:<id>", "cli"
    sa.Column("action", sa.String(64), nullable=False),  # e.g. "keys.revoke"
    sa.Column("target", sa.String(128), nullable=True),  # e.g. "account:<id>"
    sa.Column("details", sa.Text, nullable=False),  # JSON of metadata; never content
    sa.Index("ix_admin_audit_target", "target"),
)

# The policy transparency log (zdrgate.policylog): append-only, hash-chained, signed.
# Policy digests, endpoint ids and reasons only; never content.
policy_log = sa.Table(
    "policy_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", TZ, nullable=False),
    sa.Column("provider", sa.String(128), nullable=False),
    sa.Column("endpoints", sa.Text, nullable=False),  # JSON list of endpoint ids
    sa.Column("old_digest", sa.String(80), nullable=True),
    sa.Column("new_digest", sa.String(80), nullable=True),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("evidence_digest", sa.String(80), nullable=True),
    sa.Column("prev_hash", sa.String(80), nullable=False, unique=True),
    sa.Column("entry_hash", sa.String(80), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)

# Public receipt keys (JWK JSON), shared by every instance so each serves them all in
# its JWKS. ``signs_until``: an instance signing with the key renews it while it runs.
receipt_keys = sa.Table(
    "receipt_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("jwk", sa.Text, nullable=False),
    sa.Column("first_used", TZ, nullable=False),
    sa.Column("signs_until", TZ, nullable=False),
)
