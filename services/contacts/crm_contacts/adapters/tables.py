"""The contacts service's tables (SQLAlchemy Core). Migrations create them; a test checks that
the migrations and these definitions agree."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

clients = sa.Table(
    "clients",
    metadata,
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
    sa.Index("ix_clients_owner_id", "owner_id", "id"),
    sa.Index("ix_clients_email", "email"),
    sa.Index("ix_clients_tax", "tax_country", "tax_id"),
    sa.Index("ix_clients_name_search", "name_search"),
)

prospects = sa.Table(
    "prospects",
    metadata,
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
    # Empty: not said.
    sa.Column("source", sa.String(20), nullable=False, server_default=""),
    sa.Column("source_campaign_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disqualified_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("converted_client_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("converted_contact_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("converted_deal_id", sa.String(36), nullable=False, server_default=""),
    # Company, names and e-mail case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_prospects_owner_id", "owner_id", "id"),
    sa.Index("ix_prospects_status", "status", "id"),
    sa.Index("ix_prospects_source", "source", "id"),
    sa.Index("ix_prospects_source_campaign_id", "source_campaign_id", "id"),
    sa.Index("ix_prospects_email", "email"),
    sa.Index("ix_prospects_converted_client_id", "converted_client_id"),
)

# A prospect's phones (E.164), one row each, in the prospect's order: indexed for duplicate checks.
prospect_phones = sa.Table(
    "prospect_phones",
    metadata,
    sa.Column(
        "prospect_id",
        sa.String(36),
        sa.ForeignKey("prospects.id", name="fk_prospect_phones_prospect_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Index("ix_prospect_phones_phone", "phone"),
)
