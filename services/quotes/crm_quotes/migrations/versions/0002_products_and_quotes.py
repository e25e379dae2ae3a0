"""Products with their price history, quotes with their lines, and the per-year counter that
numbers quotes without gaps. Exact decimals are NUMERIC(24, 6) on PostgreSQL and text on SQLite
(whose NUMERIC would keep a float).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[Decimal]:
    return sa.Numeric(24, 6).with_variant(sa.String(40), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("unit_of_measure", sa.String(50), nullable=False),
        sa.Column("unit_price", _decimal(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("tax_rate", _decimal(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
    )
    op.create_index("ix_products_active", "products", ["active", "id"])
    op.create_table(
        "price_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column(
            "product_id",
            sa.String(36),
            sa.ForeignKey("products.id", name="fk_price_changes_product_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("previous_unit_price", _decimal(), nullable=True),
        sa.Column("previous_currency_code", sa.String(3), nullable=False, server_default=""),
        sa.Column("previous_tax_rate", _decimal(), nullable=True),
        sa.Column("unit_price", _decimal(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("tax_rate", _decimal(), nullable=False),
        sa.Column("changed_by", sa.String(36), nullable=False, server_default=""),
        sa.Column("changed_at", _ts(), nullable=False),
        sa.Column("product_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_price_changes_product_id", "price_changes", ["product_id", "id"])
    op.create_table(
        "quote_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
    )
    op.create_table(
        "quotes",
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
        sa.Column("global_discount_percent", _decimal(), nullable=False),
        sa.Column("subtotal", _decimal(), nullable=False),
        sa.Column("discount_total", _decimal(), nullable=False),
        sa.Column("tax_total", _decimal(), nullable=False),
        sa.Column("total", _decimal(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False, server_default=""),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("send_time", _ts(), nullable=True),
        sa.Column("accept_time", _ts(), nullable=True),
        sa.Column("reject_time", _ts(), nullable=True),
        sa.Column("expire_time", _ts(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("number", name="uq_quotes_number"),
    )
    op.create_index("ix_quotes_owner_id", "quotes", ["owner_id", "id"])
    op.create_index("ix_quotes_deal_id", "quotes", ["deal_id", "id"])
    op.create_index("ix_quotes_client_id", "quotes", ["client_id", "id"])
    op.create_index("ix_quotes_root_number", "quotes", ["root_number", "revision"])
    op.create_index("ix_quotes_status_valid_until", "quotes", ["status", "valid_until"])
    op.create_table(
        "quote_lines",
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
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("unit_price", _decimal(), nullable=False),
        sa.Column("discount_percent", _decimal(), nullable=False),
        sa.Column("tax_rate", _decimal(), nullable=False),
        sa.Column("subtotal", _decimal(), nullable=False),
        sa.Column("discount", _decimal(), nullable=False),
        sa.Column("tax", _decimal(), nullable=False),
        sa.Column("total", _decimal(), nullable=False),
        sa.UniqueConstraint("quote_id", "position", name="uq_quote_lines_position"),
    )
    op.create_index("ix_quote_lines_product_id", "quote_lines", ["product_id"])


def downgrade() -> None:
    for table in ("quote_lines", "quotes", "quote_counters", "price_changes", "products"):
        op.drop_table(table)
