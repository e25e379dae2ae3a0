"""The identity service's tables (SQLAlchemy Core). Migrations create them; a test checks that
the migrations and these definitions agree."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_Ts = sa.DateTime(timezone=True)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    # casefold(name): unique, and what a search matches (casefold may lengthen a name up to 3x).
    sa.Column("name_key", sa.String(600), nullable=False),
    sa.Column("manager_id", sa.String(36), nullable=True),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("updated_at", _Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ux_teams_name_key", "name_key", unique=True),
    sa.Index("ix_teams_manager_id", "manager_id"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    # lower(email): unique, and the sign-in lookup key.
    sa.Column("email_key", sa.String(320), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    # casefold(display_name), for case-insensitive search.
    sa.Column("name_key", sa.String(600), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    # The database refuses a team id that does not exist, or deleting a team that has members,
    # even when two calls race past the service's own checks.
    sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id", name="fk_users_team_id"), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("locale", sa.String(35), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("password_change_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("last_login_at", _Ts, nullable=True),
    sa.Column("deactivated_at", _Ts, nullable=True),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("updated_at", _Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ux_users_email_key", "email_key", unique=True),
    sa.Index("ix_users_team_id", "team_id", "id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", name="fk_sessions_user_id"), nullable=False),
    sa.Column("client_address", sa.String(100), nullable=False, server_default=""),
    sa.Column("user_agent", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("last_refresh_at", _Ts, nullable=True),
    sa.Column("expire_at", _Ts, nullable=False),
    sa.Column("revoked_at", _Ts, nullable=True),
    sa.Column("revoke_reason", sa.String(100), nullable=False, server_default=""),
    sa.Index("ix_sessions_user_id", "user_id"),
)

# One row per refresh token ever issued: the current one of a session has used_at NULL; a used
# one is kept so that presenting it again is recognised as theft and ends the session.
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "session_id", sa.String(36), sa.ForeignKey("sessions.id", name="fk_refresh_tokens_session_id"), nullable=False
    ),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("used_at", _Ts, nullable=True),
    sa.Index("ix_refresh_tokens_session_id", "session_id"),
)

# Failed (and in-progress) sign-in attempts within the rate-limit window; older rows are purged.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("email_key", sa.String(320), nullable=False),
    sa.Column("client_address", sa.String(100), nullable=False),
    sa.Column("attempted_at", _Ts, nullable=False),
    sa.Index("ix_login_attempts_email_key", "email_key", "attempted_at"),
    sa.Index("ix_login_attempts_client_address", "client_address", "attempted_at"),
    sa.Index("ix_login_attempts_attempted_at", "attempted_at"),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("algorithm", sa.String(20), nullable=False),
    sa.Column("private_key_pem", sa.Text(), nullable=False),
    sa.Column("public_key_pem", sa.Text(), nullable=False),
    sa.Column("created_at", _Ts, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", name="fk_api_tokens_user_id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(12), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("expire_at", _Ts, nullable=True),
    sa.Column("last_used_at", _Ts, nullable=True),
    sa.Column("revoked_at", _Ts, nullable=True),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Index("ux_api_tokens_token_hash", "token_hash", unique=True),
    sa.Index("ix_api_tokens_user_id", "user_id", "id"),
)
