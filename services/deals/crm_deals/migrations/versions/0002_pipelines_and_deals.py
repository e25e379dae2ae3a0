"""Pipelines, stages, deals with their line items, contacts and stage history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_platform.tables import ExactDecimal

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Amount = ExactDecimal()


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("win_on_quote_accepted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ux_pipelines_default",
        "pipelines",
        ["is_default"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "stages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pipeline_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("default_probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name="fk_stages_pipeline_id", ondelete="CASCADE"),
    )
    op.create_index("ix_stages_pipeline_id", "stages", ["pipeline_id", "position"])
    op.create_table(
        "deals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("pipeline_id", sa.String(36), nullable=False),
        sa.Column("stage_id", sa.String(36), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("source_campaign_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("lost_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_quote_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("source_prospect_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("search_text", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name="fk_deals_pipeline_id"),
        sa.ForeignKeyConstraint(["stage_id"], ["stages.id"], name="fk_deals_stage_id"),
    )
    op.create_index("ix_deals_owner_id", "deals", ["owner_id", "id"])
    op.create_index("ix_deals_stage_id", "deals", ["stage_id", "id"])
    op.create_index("ix_deals_pipeline_id", "deals", ["pipeline_id", "id"])
    op.create_index("ix_deals_client_id", "deals", ["client_id", "id"])
    op.create_index("ix_deals_source_campaign_id", "deals", ["source_campaign_id", "id"])
    op.create_index("ix_deals_status_owner", "deals", ["status", "owner_id", "id"])
    op.create_index("ix_deals_source_prospect_id", "deals", ["source_prospect_id"])
    op.create_table(
        "deal_line_items",
        sa.Column("deal_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("quantity", Amount, nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_line_items_deal_id", ondelete="CASCADE"),
    )
    op.create_index("ix_deal_line_items_product_id", "deal_line_items", ["product_id", "deal_id"])
    op.create_table(
        "deal_contacts",
        sa.Column("deal_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_contacts_deal_id", ondelete="CASCADE"),
    )
    op.create_index("ix_deal_contacts_contact_id", "deal_contacts", ["contact_id", "deal_id"])
    op.create_table(
        "deal_stage_history",
        sa.Column("deal_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("from_stage_id", sa.String(36), nullable=False, server_default=""),
        sa.Column("to_stage_id", sa.String(36), nullable=False),
        sa.Column("moved_by", sa.String(36), nullable=False, server_default=""),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_stage_history_deal_id", ondelete="CASCADE"),
    )


def downgrade() -> None:
    for table in ("deal_stage_history", "deal_contacts", "deal_line_items", "deals", "stages", "pipelines"):
        op.drop_table(table)
