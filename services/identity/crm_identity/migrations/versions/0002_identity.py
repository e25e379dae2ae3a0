"""Identity: teams, users, sessions and refresh tokens, sign-in attempts, signing keys, API tokens.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(600), nullable=False),
        sa.Column("manager_id", sa.String(36), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ux_teams_name_key", "teams", ["name_key"], unique=True)
    op.create_index("ix_teams_manager_id", "teams", ["manager_id"])

    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(600), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id", name="fk_users_team_id"), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("password_change_required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_login_at", _ts(), nullable=True),
        sa.Column("deactivated_at", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ux_users_email_key", "users", ["email_key"], unique=True)
    op.create_index("ix_users_team_id", "users", ["team_id", "id"])

    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", name="fk_sessions_user_id"), nullable=False),
        sa.Column("client_address", sa.String(100), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("last_refresh_at", _ts(), nullable=True),
        sa.Column("expire_at", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.Column("revoke_reason", sa.String(100), nullable=False, server_default=""),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])

    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(36),
            sa.ForeignKey("sessions.id", name="fk_refresh_tokens_session_id"),
            nullable=False,
        ),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("used_at", _ts(), nullable=True),
    )
    op.create_index("ix_refresh_tokens_session_id", "refresh_tokens", ["session_id"])

    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("client_address", sa.String(100), nullable=False),
        sa.Column("attempted_at", _ts(), nullable=False),
    )
    op.create_index("ix_login_attempts_email_key", "login_attempts", ["email_key", "attempted_at"])
    op.create_index("ix_login_attempts_client_address", "login_attempts", ["client_address", "attempted_at"])
    op.create_index("ix_login_attempts_attempted_at", "login_attempts", ["attempted_at"])

    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(20), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
    )

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", name="fk_api_tokens_user_id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expire_at", _ts(), nullable=True),
        sa.Column("last_used_at", _ts(), nullable=True),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
    )
    op.create_index("ux_api_tokens_token_hash", "api_tokens", ["token_hash"], unique=True)
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id", "id"])


def downgrade() -> None:
    for table in ("api_tokens", "signing_keys", "login_attempts", "refresh_tokens", "sessions", "users", "teams"):
        op.drop_table(table)
