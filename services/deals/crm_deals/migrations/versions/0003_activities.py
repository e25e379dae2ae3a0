"""Activities: calls, meetings, visits, tasks and e-mails scheduled or logged against deals,
clients, contacts and prospects, with the indexes their lists read in (sort time, id) order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(1000), nullable=False, server_default=""),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("deal_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("client_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("contact_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("prospect_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("campaign_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("sort_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_activities_owner_status_sort", "activities", ["owner_id", "status", "sort_at", "id"])
    op.create_index("ix_activities_owner_sort", "activities", ["owner_id", "sort_at", "id"])
    op.create_index("ix_activities_status_sort", "activities", ["status", "sort_at", "id"])
    op.create_index("ix_activities_sort", "activities", ["sort_at", "id"])
    for column in ("deal_id", "client_id", "contact_id", "prospect_id", "campaign_id"):
        op.create_index(f"ix_activities_{column}", "activities", [column, "sort_at", "id"])


def downgrade() -> None:
    op.drop_table("activities")
