"""The contacts service's tables (SQLAlchemy Core). Migrations create them; a test checks that
the migrations and these definitions agree (except the text search indexes, which Alembic cannot
compare: see `include_object`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

# Tables whose `search_text` column (case-folded names, e-mail, tax id) a list's query searches,
# through an index the migrations create (see adapters/search.py): a trigram GIN index
# (pg_trgm) on PostgreSQL; on SQLite an FTS5 table with the trigram tokenizer and a table of the
# rows inserted out of id order, both kept by triggers.
SEARCHED_TABLES = ("clients", "contacts", "prospects")
# The tables SQLite's FTS5 keeps beside a full-text table <name>.
_FTS5_SHADOWS = ("", "_data", "_idx", "_docsize", "_config", "_content")


def fts_table(table: str) -> str:
    return f"{table}_search"


def late_table(table: str) -> str:
    """SQLite: the ids of the table's rows inserted after a row with a greater id (see adapters/search.py)."""
    return f"{table}_search_late"


def trigram_index(table: str) -> str:
    return f"ix_{table}_search_trgm"


_UNCOMPARED = frozenset(
    {fts_table(t) + shadow for t in SEARCHED_TABLES for shadow in _FTS5_SHADOWS}
    | {late_table(t) for t in SEARCHED_TABLES}
    | {trigram_index(t) for t in SEARCHED_TABLES}
)


# PostgreSQL: the generated column the trigram index is built on (the server computes it; the
# service never reads or writes it but through adapters/search.py).
SEARCH_KEY = "search_key"


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's include_object hook (migrations/env.py and the schema test): every object but the
    search indexes, which are made by hand in the migrations and that Alembic cannot compare."""
    if type_ == "column" and name == SEARCH_KEY:
        return False
    return name not in _UNCOMPARED


clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("legal_name", sa.String(500), nullable=False, server_default=""),
    sa.Column("tax_country", sa.String(2), nullable=False, server_default=""),
    sa.Column("tax_id", sa.String(50), nullable=False, server_default=""),
    sa.Column("industry", sa.String(500), nullable=False, server_default=""),
    sa.Column("segment_tags", sa.JSON(), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    # The e-mail's domain: a conversion may reuse a client of the prospect's company domain.
    sa.Column("email_domain", sa.String(255), nullable=False, server_default=""),
    # In the client's order; client_phones indexes them for duplicate checks.
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
    # Name, legal name, e-mail and tax id case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_clients_owner_id", "owner_id", "id"),
    sa.Index("ix_clients_email", "email"),
    sa.Index("ix_clients_email_domain", "email_domain"),
    sa.Index("ix_clients_tax", "tax_country", "tax_id"),
)

# A client's phones (E.164), one row each: indexed for duplicate checks (the client row keeps them
# in order for reading).
client_phones = sa.Table(
    "client_phones",
    metadata,
    sa.Column(
        "client_id",
        sa.String(36),
        sa.ForeignKey("clients.id", name="fk_client_phones_client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Index("ix_client_phones_phone", "phone"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("client_id", sa.String(36), sa.ForeignKey("clients.id", name="fk_contacts_client_id"), nullable=False),
    sa.Column("first_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("job_title", sa.String(500), nullable=False, server_default=""),
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
    # Empty: not said.
    sa.Column("decision_role", sa.String(20), nullable=False, server_default=""),
    sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
    # Names and e-mail case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_contacts_client_id", "client_id", "id"),
    sa.Index("ix_contacts_owner_id", "owner_id", "id"),
    sa.Index("ix_contacts_email", "email"),
    # At most one primary contact per client (the service moves the flag; this makes sure).
    sa.Index(
        "uq_contacts_primary",
        "client_id",
        unique=True,
        sqlite_where=sa.text("is_primary"),
        postgresql_where=sa.text("is_primary"),
    ),
)

# A contact's phones (E.164), one row each, in the contact's order: indexed for duplicate checks.
contact_phones = sa.Table(
    "contact_phones",
    metadata,
    sa.Column(
        "contact_id",
        sa.String(36),
        sa.ForeignKey("contacts.id", name="fk_contact_phones_contact_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Index("ix_contact_phones_phone", "phone"),
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
    # Whether the conversion created its client (false: it reused one): repeated in a reconvert's answer.
    sa.Column("converted_client_created", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
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
