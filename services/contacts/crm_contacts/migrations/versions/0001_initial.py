"""Initial schema: the platform tables and clients.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_platform.migrations import create_platform_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables_v1()
    op.create_table(
        "clients",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_search", sa.String(200), nullable=False),
        sa.Column("legal_name", sa.String(500), nullable=False, server_default=""),
        sa.Column("tax_country", sa.String(2), nullable=False, server_default=""),
        sa.Column("tax_id", sa.String(50), nullable=False, server_default=""),
        sa.Column("industry", sa.String(500), nullable=False, server_default=""),
        sa.Column("segment_tags", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("website", sa.String(500), nullable=False, server_default=""),
        sa.Column("street", sa.String(500), nullable=False, server_default=""),
        sa.Column("city", sa.String(200), nullable=False, server_default=""),
        sa.Column("region", sa.String(200), nullable=False, server_default=""),
        sa.Column("postal_code", sa.String(20), nullable=False, server_default=""),
        sa.Column("country_code", sa.String(2), nullable=False, server_default=""),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(500), nullable=False, server_default=""),
        sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_clients_owner_id", "clients", ["owner_id", "id"])
    op.create_index("ix_clients_email", "clients", ["email"])
    op.create_index("ix_clients_tax", "clients", ["tax_country", "tax_id"])
    op.create_index("ix_clients_name_search", "clients", ["name_search"])


def downgrade() -> None:
    op.drop_table("clients")
