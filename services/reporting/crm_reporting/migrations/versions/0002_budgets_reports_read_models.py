"""Budgets, saved report definitions and the read models built from the other services' events.

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


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("period_kind", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("target_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_budgets_period", "budgets", ["period_start", "period_kind"], unique=False)
    op.create_index(
        "ux_budgets_owner_period",
        "budgets",
        ["user_id", "team_id", "period_kind", "period_start", "currency_code"],
        unique=True,
    )
    op.create_table(
        "report_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("module", sa.String(length=20), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_definitions_owner", "report_definitions", ["owner_id", "id"], unique=False)
    op.create_index("ix_report_definitions_shared", "report_definitions", ["shared", "id"], unique=False)
    op.create_table(
        "rm_activities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), server_default="", nullable=False),
        sa.Column("subject", sa.String(length=300), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=500), server_default="", nullable=False),
        sa.Column("deal_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("client_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("contact_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("prospect_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("campaign_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_activities_done", "rm_activities", ["owner_id", "done_at", "status", "kind"], unique=False)
    op.create_index("ix_rm_activities_due", "rm_activities", ["owner_id", "due_at"], unique=False)
    op.create_table(
        "rm_campaign_leads",
        sa.Column("prospect_id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("prospect_id"),
    )
    op.create_index("ix_rm_campaign_leads_campaign", "rm_campaign_leads", ["campaign_id", "captured_at"], unique=False)
    op.create_table(
        "rm_campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("type", sa.String(length=15), server_default="", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("currency_code", sa.String(length=3), server_default="", nullable=False),
        sa.Column("budget_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("member_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "rm_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=10), server_default="", nullable=False),
        sa.Column("industry", sa.String(length=200), server_default="", nullable=False),
        sa.Column("segment_tags", sa.Text(), server_default="", nullable=False),
        sa.Column("city", sa.String(length=200), server_default="", nullable=False),
        sa.Column("country_code", sa.String(length=2), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("source", sa.String(length=100), server_default="", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_clients_owner", "rm_clients", ["owner_id"], unique=False)
    op.create_table(
        "rm_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("first_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("job_title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("decision_role", sa.String(length=30), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_contacts_client", "rm_contacts", ["client_id"], unique=False)
    op.create_table(
        "rm_deals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("client_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("stage_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("probability", sa.Integer(), server_default="0", nullable=False),
        sa.Column("currency_code", sa.String(length=3), server_default="", nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("source_campaign_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("source_prospect_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("accepted_quote_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("lost_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sales_cycle_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("product_ids", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_deals_campaign", "rm_deals", ["source_campaign_id", "status"], unique=False)
    op.create_index(
        "ix_rm_deals_closed",
        "rm_deals",
        ["owner_id", "closed_at", "status", "currency_code", "amount_minor", "sales_cycle_seconds"],
        unique=False,
    )
    op.create_index("ix_rm_deals_created", "rm_deals", ["created_at"], unique=False)
    op.create_index(
        "ix_rm_deals_open",
        "rm_deals",
        ["owner_id", "status", "stage_id", "currency_code", "amount_minor", "probability"],
        unique=False,
    )
    op.create_table(
        "rm_pipelines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "rm_products",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), server_default="", nullable=False),
        sa.Column("name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=10), server_default="", nullable=False),
        sa.Column("unit_of_measure", sa.String(length=30), server_default="", nullable=False),
        sa.Column("currency_code", sa.String(length=3), server_default="", nullable=False),
        sa.Column("unit_price", ExactDecimal(), nullable=True),
        sa.Column("tax_rate", ExactDecimal(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "rm_prospects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("company_name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("first_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("source", sa.String(length=20), server_default="", nullable=False),
        sa.Column("source_campaign_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("status", sa.String(length=15), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("converted_client_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("converted_deal_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_prospects_campaign", "rm_prospects", ["source_campaign_id"], unique=False)
    op.create_index("ix_rm_prospects_created", "rm_prospects", ["owner_id", "created_at", "status"], unique=False)
    op.create_table(
        "rm_quotes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=40), server_default="", nullable=False),
        sa.Column("owner_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("deal_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("client_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("status", sa.String(length=12), server_default="", nullable=False),
        sa.Column("currency_code", sa.String(length=3), server_default="", nullable=False),
        sa.Column("total_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_quotes_decided", "rm_quotes", ["owner_id", "decided_at", "status"], unique=False)
    op.create_table(
        "rm_stages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pipeline_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("default_probability", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_stages_pipeline", "rm_stages", ["pipeline_id", "position"], unique=False)
    op.create_table(
        "rm_streams",
        sa.Column("stream", sa.String(length=50), nullable=False),
        sa.Column("events_applied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_event_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("stream"),
    )
    op.create_table(
        "rm_teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("manager_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "rm_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("display_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("role", sa.String(length=20), server_default="", nullable=False),
        sa.Column("team_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rm_users_team", "rm_users", ["team_id"], unique=False)


def downgrade() -> None:
    pass
