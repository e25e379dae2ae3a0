"""Storing and reading canvases, notes and revisions: rows ↔ domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_canvas.adapters.tables import canvas_notes, canvas_revisions, canvases
from crm_canvas.domain.canvas import Block, Canvas, CanvasStatus, Link, LinkKind, Note, Revision
from crm_platform.db import rows_changed, utc


def _canvas(row: Any) -> Canvas:
    return Canvas(
        id=row.id,
        name=row.name,
        description=row.description,
        owner_id=row.owner_id,
        status=CanvasStatus(row.status),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _canvas_values(c: Canvas) -> dict[str, Any]:
    return {
        "name": c.name,
        "description": c.description,
        "owner_id": c.owner_id,
        "status": c.status.value,
        "search_text": c.search_text,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def _note(row: Any) -> Note:
    return Note(
        id=row.id,
        canvas_id=row.canvas_id,
        block=Block(row.block),
        text=row.text,
        color=row.color,
        order=row.sort_order,
        x=row.x,
        y=row.y,
        author_id=row.author_id,
        links=tuple(Link(LinkKind(k["kind"]), k["target_id"]) for k in row.links or []),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _note_values(n: Note) -> dict[str, Any]:
    return {
        "canvas_id": n.canvas_id,
        "block": n.block.value,
        "text": n.text,
        "color": n.color,
        "sort_order": n.order,
        "x": n.x,
        "y": n.y,
        "author_id": n.author_id,
        "links": [{"kind": k.kind.value, "target_id": k.target_id} for k in n.links],
        "updated_at": n.updated_at,
        "version": n.version,
    }


def add_canvas(session: Session, c: Canvas) -> None:
    session.execute(insert(canvases).values(id=c.id, created_at=c.created_at, **_canvas_values(c)))


def update_canvas(session: Session, c: Canvas, read_version: int) -> bool:
    result = session.execute(
        update(canvases).where(canvases.c.id == c.id, canvases.c.version == read_version).values(**_canvas_values(c))
    )
    return rows_changed(result) == 1


def get_canvas(session: Session, canvas_id: str, *, for_update: bool = False) -> Canvas | None:
    stmt = select(canvases).where(canvases.c.id == canvas_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _canvas(row)


def delete_canvas(session: Session, canvas_id: str) -> None:
    session.execute(delete(canvas_revisions).where(canvas_revisions.c.canvas_id == canvas_id))
    session.execute(delete(canvas_notes).where(canvas_notes.c.canvas_id == canvas_id))
    session.execute(delete(canvases).where(canvases.c.id == canvas_id))


def list_canvases(
    session: Session,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    owner_ids: tuple[str, ...] = (),
    status: CanvasStatus | None = None,
    include_archived: bool = False,
) -> list[Canvas]:
    conditions: list[ColumnElement[bool]] = []
    words = [w.casefold() for w in query.split() if w]
    if words:
        conditions.append(and_(*(canvases.c.search_text.contains(w, autoescape=True) for w in words)))
    if owner_ids:
        conditions.append(canvases.c.owner_id.in_(owner_ids))
    if status is not None:
        conditions.append(canvases.c.status == status.value)
    elif not include_archived:
        conditions.append(canvases.c.status != CanvasStatus.ARCHIVED.value)
    if after_id:
        conditions.append(canvases.c.id > after_id)
    stmt = select(canvases).where(*conditions).order_by(canvases.c.id).limit(limit)
    return [_canvas(r) for r in session.execute(stmt)]


def notes_of(session: Session, canvas_id: str) -> list[Note]:
    stmt = (
        select(canvas_notes)
        .where(canvas_notes.c.canvas_id == canvas_id)
        .order_by(canvas_notes.c.block, canvas_notes.c.sort_order, canvas_notes.c.id)
    )
    return [_note(r) for r in session.execute(stmt)]


def get_note(session: Session, note_id: str) -> Note | None:
    row = session.execute(select(canvas_notes).where(canvas_notes.c.id == note_id)).first()
    return None if row is None else _note(row)


def add_notes(session: Session, notes: Sequence[Note]) -> None:
    if notes:
        session.execute(
            insert(canvas_notes), [{"id": n.id, "created_at": n.created_at, **_note_values(n)} for n in notes]
        )


def update_note(session: Session, note: Note, read_version: int) -> bool:
    result = session.execute(
        update(canvas_notes)
        .where(canvas_notes.c.id == note.id, canvas_notes.c.version == read_version)
        .values(**_note_values(note))
    )
    return rows_changed(result) == 1


def delete_notes(session: Session, note_ids: Sequence[str]) -> None:
    if note_ids:
        session.execute(delete(canvas_notes).where(canvas_notes.c.id.in_(list(note_ids))))


def add_revision(session: Session, revision: Revision, snapshot: dict[str, Any]) -> None:
    session.execute(
        insert(canvas_revisions).values(
            canvas_id=revision.canvas_id,
            revision_number=revision.number,
            author_id=revision.author_id,
            summary=revision.summary[:300],
            created_at=revision.created_at,
            snapshot=snapshot,
        )
    )


def _revision(row: Any) -> Revision:
    return Revision(
        canvas_id=row.canvas_id,
        number=row.revision_number,
        author_id=row.author_id,
        summary=row.summary,
        # NOT NULL, so never None; crm_platform.db.utc is typed Optional in and out.
        created_at=utc(row.created_at),
    )


def get_revision(session: Session, canvas_id: str, number: int) -> tuple[Revision, dict[str, Any]] | None:
    row = session.execute(
        select(canvas_revisions).where(
            canvas_revisions.c.canvas_id == canvas_id, canvas_revisions.c.revision_number == number
        )
    ).first()
    return None if row is None else (_revision(row), dict(row.snapshot))


def list_revisions(session: Session, canvas_id: str, *, limit: int, before: int | None) -> list[Revision]:
    cols = [c for c in canvas_revisions.c if c.name != "snapshot"]
    conditions = [canvas_revisions.c.canvas_id == canvas_id]
    if before is not None:
        conditions.append(canvas_revisions.c.revision_number < before)
    stmt = select(*cols).where(*conditions).order_by(canvas_revisions.c.revision_number.desc()).limit(limit)
    return [_revision(r) for r in session.execute(stmt)]
