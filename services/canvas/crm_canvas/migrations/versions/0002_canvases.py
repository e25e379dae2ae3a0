"""Canvases, their notes and their revisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "canvases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Index("ix_canvases_owner", "owner_id", "id"),
    )
    op.create_table(
        "canvas_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("canvas_id", sa.String(36), sa.ForeignKey("canvases.id"), nullable=False),
        sa.Column("block", sa.String(40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Index("ix_canvas_notes_canvas", "canvas_id", "block", "sort_order"),
    )
    op.create_table(
        "canvas_revisions",
        sa.Column("canvas_id", sa.String(36), sa.ForeignKey("canvases.id"), primary_key=True),
        sa.Column("revision_number", sa.Integer(), primary_key=True),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("canvas_revisions")
    op.drop_table("canvas_notes")
    op.drop_table("canvases")
