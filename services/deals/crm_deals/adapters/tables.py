"""The deals service's tables (SQLAlchemy Core): pipelines and their stages, deals with their
line items, contacts and stage history, and activities. Migrations create them; a test checks
that the migrations and these definitions agree."""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.tables import ExactDecimal

metadata = sa.MetaData()

# Exact decimals: 18 integer digits and 6 decimals (crm_platform.money.MAX_AMOUNT_DIGITS).
Amount = ExactDecimal()

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("win_on_quote_accepted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    # At most one default pipeline.
    sa.Index(
        "ux_pipelines_default",
        "is_default",
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    ),
)

stages = sa.Table(
    "stages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("pipeline_id", sa.String(36), nullable=False),
    # Board order within the pipeline: open stages, then the won and the lost stage.
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("default_probability", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name="fk_stages_pipeline_id", ondelete="CASCADE"),
    sa.Index("ix_stages_pipeline_id", "pipeline_id", "position"),
)

deals = sa.Table(
    "deals",
    metadata,
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
    # The prospect whose conversion opened the deal (at most one deal per conversion).
    sa.Column("source_prospect_id", sa.String(36), nullable=False, server_default=""),
    # The title case-folded: what a list's text query searches.
    sa.Column("search_text", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name="fk_deals_pipeline_id"),
    sa.ForeignKeyConstraint(["stage_id"], ["stages.id"], name="fk_deals_stage_id"),
    # Lists are in id order (ids are time-ordered): each filter has an index ending in id.
    sa.Index("ix_deals_owner_id", "owner_id", "id"),
    sa.Index("ix_deals_stage_id", "stage_id", "id"),
    sa.Index("ix_deals_pipeline_id", "pipeline_id", "id"),
    sa.Index("ix_deals_client_id", "client_id", "id"),
    sa.Index("ix_deals_source_campaign_id", "source_campaign_id", "id"),
    sa.Index("ix_deals_status_owner", "status", "owner_id", "id"),
    sa.Index("ix_deals_source_prospect_id", "source_prospect_id"),
)

deal_line_items = sa.Table(
    "deal_line_items",
    metadata,
    sa.Column("deal_id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("product_id", sa.String(36), nullable=False),
    sa.Column("quantity", Amount, nullable=False),
    sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_line_items_deal_id", ondelete="CASCADE"),
    sa.Index("ix_deal_line_items_product_id", "product_id", "deal_id"),
)

deal_contacts = sa.Table(
    "deal_contacts",
    metadata,
    sa.Column("deal_id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("contact_id", sa.String(36), nullable=False),
    sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_contacts_deal_id", ondelete="CASCADE"),
    sa.Index("ix_deal_contacts_contact_id", "contact_id", "deal_id"),
)

deal_stage_history = sa.Table(
    "deal_stage_history",
    metadata,
    sa.Column("deal_id", sa.String(36), primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    # Empty on the entry that records the deal's creation.
    sa.Column("from_stage_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("to_stage_id", sa.String(36), nullable=False),
    sa.Column("moved_by", sa.String(36), nullable=False, server_default=""),
    sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name="fk_deal_stage_history_deal_id", ondelete="CASCADE"),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("notes", sa.Text(), nullable=False, server_default=""),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("duration_seconds", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.String(1000), nullable=False, server_default=""),
    sa.Column("owner_id", sa.String(36), nullable=False),
    # What the activity is about (at least one is set; "" = none). No foreign key to deals: an
    # activity stays the record of work done after its deal is gone.
    sa.Column("deal_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("client_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("contact_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("prospect_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("campaign_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("cancel_reason", sa.String(500), nullable=False, server_default=""),
    # The list order's time: the due time, or the done time of an activity logged done without one.
    sa.Column("sort_at", sa.DateTime(timezone=True), nullable=False),
    # Subject and notes case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    # Lists are in (sort_at, id) order: each filter has an index ending in those two, so that a
    # page is an index range scan. "Overdue / upcoming of one owner" is owner + status + a range of
    # sort_at (a scheduled activity's sort_at is its due time).
    sa.Index("ix_activities_owner_status_sort", "owner_id", "status", "sort_at", "id"),
    sa.Index("ix_activities_owner_sort", "owner_id", "sort_at", "id"),
    sa.Index("ix_activities_status_sort", "status", "sort_at", "id"),
    sa.Index("ix_activities_sort", "sort_at", "id"),
    sa.Index("ix_activities_deal_id", "deal_id", "sort_at", "id"),
    sa.Index("ix_activities_client_id", "client_id", "sort_at", "id"),
    sa.Index("ix_activities_contact_id", "contact_id", "sort_at", "id"),
    sa.Index("ix_activities_prospect_id", "prospect_id", "sort_at", "id"),
    sa.Index("ix_activities_campaign_id", "campaign_id", "sort_at", "id"),
)
