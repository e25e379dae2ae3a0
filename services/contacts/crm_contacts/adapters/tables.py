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
