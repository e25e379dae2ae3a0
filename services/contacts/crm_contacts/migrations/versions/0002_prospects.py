"""Prospects and their phones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prospects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("company_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("job_title", sa.String(500), nullable=False, server_default=""),
        sa.Column("email", sa.String(320), nullable=False, server_default=""),
        sa.Column("tax_country", sa.String(2), nullable=False, server_default=""),
        sa.Column("tax_id", sa.String(50), nullable=False, server_default=""),
        sa.Column("industry", sa.String(500), nullable=False, server_default=""),
        sa.Column("street", sa.String(500), nullable=False, server_default=""),
        sa.Column("city", sa.String(200), nullable=False, server_default=""),
        sa.Column("region", sa.String(200), nullable=False, server_default=""),
        sa.Column("postal_code", sa.String(20), nullable=False, server_default=""),
        sa.Column("country_code", sa.String(2), nullable=False, server_default=""),
        sa.Column("source", sa.String(20), nullable=False, server_default=""),
        sa.Column("source_campaign_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("disqualified_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("converted_client_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("converted_contact_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("converted_deal_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_prospects_owner_id", "prospects", ["owner_id", "id"])
    op.create_index("ix_prospects_status", "prospects", ["status", "id"])
    op.create_index("ix_prospects_source", "prospects", ["source", "id"])
    op.create_index("ix_prospects_source_campaign_id", "prospects", ["source_campaign_id", "id"])
    op.create_index("ix_prospects_email", "prospects", ["email"])
    op.create_index("ix_prospects_converted_client_id", "prospects", ["converted_client_id"])
    op.create_table(
        "prospect_phones",
        sa.Column("prospect_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["prospect_id"], ["prospects.id"], name="fk_prospect_phones_prospect_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_prospect_phones_phone", "prospect_phones", ["phone"])


def downgrade() -> None:
    op.drop_table("prospect_phones")
    op.drop_table("prospects")
