"""Partial covering indexes of live (not deleted) read-model rows for the indicators, an index of
campaigns by owner, and the rebuild log (rm_rebuilds).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rendered as each dialect renders the indicator queries' own term ("deleted = 0" on SQLite,
# "deleted = false" on PostgreSQL): SQLite uses a partial index only when the terms match.
LIVE = sa.column("deleted", sa.Boolean()) == sa.false()


def _live_index(name: str, table: str, columns: list[str]) -> None:
    """A partial index of live rows; `deleted` ends the columns so that SQLite sees it covering."""
    op.create_index(name, table, columns, unique=False, sqlite_where=LIVE, postgresql_where=LIVE)


def upgrade() -> None:
    _live_index(
        "ix_rm_deals_closed_live",
        "rm_deals",
        ["owner_id", "closed_at", "status", "currency_code", "amount_minor", "sales_cycle_seconds", "deleted"],
    )
    _live_index(
        "ix_rm_deals_open_live",
        "rm_deals",
        [
            "owner_id",
            "status",
            "stage_id",
            "currency_code",
            "expected_close_date",
            "amount_minor",
            "probability",
            "deleted",
        ],
    )
    _live_index("ix_rm_activities_done_live", "rm_activities", ["owner_id", "done_at", "status", "kind", "deleted"])
    _live_index("ix_rm_prospects_created_live", "rm_prospects", ["owner_id", "created_at", "status", "deleted"])
    _live_index("ix_rm_quotes_decided_live", "rm_quotes", ["owner_id", "decided_at", "status", "deleted"])
    op.create_index("ix_rm_campaigns_owner", "rm_campaigns", ["owner_id", "start_date"], unique=False)
    op.create_table(
        "rm_rebuilds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("events_replayed", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    pass
