"""The quotes service's tables (SQLAlchemy Core). Migrations create them; a test checks that the
migrations and these definitions agree.

Exact decimals (prices, quantities, percentages, rates, amounts) are NUMERIC(24, 6) on
PostgreSQL and text on SQLite, whose NUMERIC keeps only a float's 15-16 significant digits."""

from __future__ import annotations

import sqlalchemy as sa

from crm_platform.tables import ExactDecimal

metadata = sa.MetaData()


_Ts = sa.DateTime(timezone=True)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # Upper-cased; unique.
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("unit_of_measure", sa.String(50), nullable=False),
    sa.Column("unit_price", ExactDecimal(), nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("tax_rate", ExactDecimal(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    # SKU, name and description case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("updated_at", _Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("sku", name="uq_products_sku"),
    sa.Index("ix_products_active", "active", "id"),
)

# Every change of a product's price or tax rate (and its creation), oldest first by id.
price_changes = sa.Table(
    "price_changes",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column(
        "product_id",
        sa.String(36),
        sa.ForeignKey("products.id", name="fk_price_changes_product_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("previous_unit_price", ExactDecimal(), nullable=True),
    sa.Column("previous_currency_code", sa.String(3), nullable=False, server_default=""),
    sa.Column("previous_tax_rate", ExactDecimal(), nullable=True),
    sa.Column("unit_price", ExactDecimal(), nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("tax_rate", ExactDecimal(), nullable=False),
    sa.Column("changed_by", sa.String(36), nullable=False, server_default=""),
    sa.Column("changed_at", _Ts, nullable=False),
    sa.Column("product_version", sa.Integer(), nullable=False),
    sa.Index("ix_price_changes_product_id", "product_id", "id"),
)

# The last number given to an original quote of each year (gapless: advanced in the quote's own
# transaction, so a rolled-back create gives its number back).
quote_counters = sa.Table(
    "quote_counters",
    metadata,
    sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("last_number", sa.Integer(), nullable=False),
)

quotes = sa.Table(
    "quotes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(40), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("root_number", sa.String(40), nullable=False),
    sa.Column("revises_quote_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("superseded_by_quote_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("deal_id", sa.String(36), nullable=False),
    sa.Column("client_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("contact_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("currency_code", sa.String(3), nullable=False),
    sa.Column("global_discount_percent", ExactDecimal(), nullable=False),
    # Sums of the lines' rounded amounts (domain.totals), kept for lists and reports.
    sa.Column("subtotal", ExactDecimal(), nullable=False),
    sa.Column("discount_total", ExactDecimal(), nullable=False),
    sa.Column("tax_total", ExactDecimal(), nullable=False),
    sa.Column("total", ExactDecimal(), nullable=False),
    sa.Column("valid_until", sa.Date(), nullable=False),
    sa.Column("terms", sa.Text(), nullable=False, server_default=""),
    sa.Column("notes", sa.Text(), nullable=False, server_default=""),
    # As stored: a sent quote past its validity reads as expired before the sweep stores it.
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("rejection_reason", sa.Text(), nullable=False, server_default=""),
    sa.Column("send_time", _Ts, nullable=True),
    sa.Column("accept_time", _Ts, nullable=True),
    sa.Column("reject_time", _Ts, nullable=True),
    sa.Column("expire_time", _Ts, nullable=True),
    # Number, terms, line SKUs and descriptions case-folded: what a list's text query searches.
    sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
    sa.Column("created_at", _Ts, nullable=False),
    sa.Column("updated_at", _Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("number", name="uq_quotes_number"),
    sa.Index("ix_quotes_owner_id", "owner_id", "id"),
    sa.Index("ix_quotes_deal_id", "deal_id", "id"),
    sa.Index("ix_quotes_client_id", "client_id", "id"),
    sa.Index("ix_quotes_root_number", "root_number", "revision"),
    sa.Index("ix_quotes_status_valid_until", "status", "valid_until"),
)

quote_lines = sa.Table(
    "quote_lines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "quote_id",
        sa.String(36),
        sa.ForeignKey("quotes.id", name="fk_quote_lines_quote_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.String(36), nullable=False),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("unit_of_measure", sa.String(50), nullable=False),
    sa.Column("quantity", ExactDecimal(), nullable=False),
    sa.Column("unit_price", ExactDecimal(), nullable=False),
    sa.Column("discount_percent", ExactDecimal(), nullable=False),
    sa.Column("tax_rate", ExactDecimal(), nullable=False),
    sa.Column("subtotal", ExactDecimal(), nullable=False),
    sa.Column("discount", ExactDecimal(), nullable=False),
    sa.Column("tax", ExactDecimal(), nullable=False),
    sa.Column("total", ExactDecimal(), nullable=False),
    sa.UniqueConstraint("quote_id", "position", name="uq_quote_lines_position"),
    sa.Index("ix_quote_lines_product_id", "product_id"),
)
