"""The canvas service's own tables: canvases, their notes, and the revisions that record every
change (each with a JSON snapshot of the canvas's notes)."""

import sqlalchemy as sa

metadata = sa.MetaData()
Ts = sa.DateTime(timezone=True)

canvases = sa.Table(
    "canvases",
    metadata,
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

canvas_notes = sa.Table(
    "canvas_notes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("canvas_id", sa.String(36), sa.ForeignKey("canvases.id"), nullable=False),
    sa.Column("block", sa.String(40), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("color", sa.String(7), nullable=False),
    sa.Column("sort_order", sa.Integer(), nullable=False),
    sa.Column("x", sa.Integer(), nullable=False),
    sa.Column("y", sa.Integer(), nullable=False),
    sa.Column("author_id", sa.String(36), nullable=False),
    # [{"kind": "product", "target_id": "..."}]: read and written whole with the note.
    sa.Column("links", sa.JSON(), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Index("ix_canvas_notes_canvas", "canvas_id", "block", "sort_order"),
)

canvas_revisions = sa.Table(
    "canvas_revisions",
    metadata,
    sa.Column("canvas_id", sa.String(36), sa.ForeignKey("canvases.id"), primary_key=True),
    sa.Column("revision_number", sa.Integer(), primary_key=True),
    sa.Column("author_id", sa.String(36), nullable=False),
    sa.Column("summary", sa.String(300), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    # crm_canvas.domain.canvas.snapshot(): the canvas's fields and all its notes at that version.
    sa.Column("snapshot", sa.JSON(), nullable=False),
)
