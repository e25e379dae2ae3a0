"""Use cases on canvases and their notes. Each change runs in one unit of work that bumps the
canvas's version, stores a revision (who, when, what, and a snapshot of every note) numbered by
that version, and stages its events; links are checked against the peer services before the
unit of work opens (no database lock is held across a gRPC call)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from crm_canvas.adapters import repository
from crm_canvas.adapters.records import Owners, RecordsDirectory, ResolvedLinks
from crm_canvas.contract import convert
from crm_canvas.domain import canvas as rules
from crm_canvas.domain.canvas import (
    BLOCK_TITLES,
    Block,
    Canvas,
    CanvasStatus,
    Link,
    LinkKind,
    Note,
    Revision,
)
from crm_platform import pagination
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version

CANVAS_FIELDS = UpdatableFields(
    fields=("name", "description", "owner_id", "status"),
    immutable=frozenset({"id", "notes", "create_time", "update_time", "version"}),
)
NOTE_FIELDS = UpdatableFields(
    fields=rules.NOTE_FIELDS,
    immutable=frozenset({"id", "canvas_id", "author_id", "create_time", "update_time", "version"}),
)
EXPORT_FORMAT = "crm.canvas.v1/1"


@dataclass(frozen=True)
class CanvasFilters:
    query: str = ""
    owner_ids: tuple[str, ...] = ()
    status: CanvasStatus | None = None
    include_archived: bool = False


@dataclass(frozen=True)
class CanvasView:
    """A canvas as read: its notes, and each distinct link resolved against today's records."""

    canvas: Canvas
    notes: list[Note]
    resolved: ResolvedLinks


@dataclass(frozen=True)
class NewCanvas:
    """A canvas checked and ready to be written by create_canvas: its fields, its notes, the
    summary of its first revision, and any warnings to hand back with it."""

    canvas: Canvas
    notes: list[Note]
    summary: str = "canvas created"
    warnings: tuple[str, ...] = ()


def _now() -> datetime:
    return datetime.now(UTC)


def _canvas_not_found(canvas_id: str) -> NotFound:
    return NotFound(f"canvas '{canvas_id}' not found", reason="canvas_not_found", metadata={"id": canvas_id})


def _note_not_found(note_id: str) -> NotFound:
    return NotFound(f"note '{note_id}' not found", reason="note_not_found", metadata={"id": note_id})


def _stored(uow: UnitOfWork, canvas_id: str) -> Canvas:
    if not canvas_id:
        raise InvalidArgument.field("canvas_id", "is required")
    found = repository.get_canvas(uow.session, canvas_id, for_update=True) if is_valid_id(canvas_id) else None
    if found is None:
        raise _canvas_not_found(canvas_id)
    return found


def check_links(directory: RecordsDirectory, notes: Sequence[Note], field: str = "note") -> None:
    """FAILED_PRECONDITION naming each linked product or campaign that does not exist."""
    links = [link for n in notes for link in n.links]
    if not links:
        return
    missing = directory.missing(links)
    if missing:
        names = ", ".join(f"{m.kind.value} '{m.target_id}'" for m in missing)
        raise FailedPrecondition(
            f"{field}.links: no such {names}",
            reason="link_target_not_found",
            metadata={"targets": ",".join(m.target_id for m in missing), "field": f"{field}.links"},
        )


def _record(uow: UnitOfWork, before: Canvas, after: Canvas, summary: str) -> Canvas:
    """Stores the canvas at its next version, and the revision of that version with a snapshot of
    the notes as the unit of work leaves them."""
    now = _now()
    after = replace(after, version=before.version + 1, updated_at=now)
    if not repository.update_canvas(uow.session, after, before.version):
        raise Conflict(f"canvas '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")
    notes = repository.notes_of(uow.session, after.id)
    revision = Revision(after.id, after.version, current_actor(), summary, now)
    repository.add_revision(uow.session, revision, rules.snapshot(after, notes))
    return after


def _title(block: Block) -> str:
    return BLOCK_TITLES[block][1]


# --- Canvases -----------------------------------------------------------------------------------


def prepare_canvas(
    directory: RecordsDirectory, draft: Canvas, notes: Sequence[Note], *, summary: str = "canvas created"
) -> NewCanvas:
    """Checks a new canvas (draft unless ACTIVE is asked) and its notes, their links against the
    peer services, before any unit of work opens."""
    canvas = rules.validated_canvas(draft)
    if canvas.status is CanvasStatus.ARCHIVED:
        raise InvalidArgument.field("canvas.status", "a new canvas is a draft or active")
    if len(notes) > rules.MAX_NOTES:
        raise InvalidArgument.field("canvas.notes", f"at most {rules.MAX_NOTES} notes")
    checked = [rules.validated_note(n, f"canvas.notes[{i}]") for i, n in enumerate(notes)]
    check_links(directory, checked, "canvas.notes")
    return NewCanvas(canvas, checked, summary)


def create_canvas(uow: UnitOfWork, new: NewCanvas) -> tuple[Canvas, list[Note]]:
    """Writes a prepared canvas, owned by the caller unless another owner is named, with its
    notes and first revision; stages canvas_created."""
    now = _now()
    actor = current_actor()
    canvas = new.canvas
    made = replace(canvas, id=new_id(), owner_id=canvas.owner_id or actor, created_at=now, updated_at=now, version=1)
    repository.add_canvas(uow.session, made)
    stored = [
        replace(
            n,
            id=new_id(),
            canvas_id=made.id,
            author_id=n.author_id or actor,
            created_at=now,
            updated_at=now,
            version=1,
        )
        for n in new.notes
    ]
    repository.add_notes(uow.session, stored)
    repository.add_revision(uow.session, Revision(made.id, 1, actor, new.summary, now), rules.snapshot(made, stored))
    uow.add_event(convert.canvas_created(made))
    return made, stored


def read_canvas(db: Database, directory: RecordsDirectory | None, canvas_id: str, *, owners: Owners) -> CanvasView:
    """The canvas with its notes; links resolved when a directory is given, as a reader who may
    see the records of `owners` (None = every owner) sees them."""
    if not is_valid_id(canvas_id):
        raise _canvas_not_found(canvas_id)
    with db.read() as session:
        canvas = repository.get_canvas(session, canvas_id)
        if canvas is None:
            raise _canvas_not_found(canvas_id)
        notes = repository.notes_of(session, canvas_id)
    resolved = directory.resolve([k for n in notes for k in n.links], owners) if directory else {}
    return CanvasView(canvas, notes, resolved)


def list_canvases(db: Database, filters: CanvasFilters, page_size: int, page_token: str) -> Page[Canvas]:
    wanted = filters.__dict__
    return read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_canvases(session, limit=limit, after_id=after_id, **wanted),
    )


def update_canvas(db: Database, draft: Canvas, mask: Sequence[str], *, expected_version: int = 0) -> Canvas:
    """Changes name, description, owner or status (draft ↔ active; an archived canvas takes only
    a status change that makes it draft or active again); stages canvas_updated."""
    paths = CANVAS_FIELDS.check(mask)
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        check_version("canvas", current.id, current.version, expected_version)
        after = CANVAS_FIELDS.apply(current, draft, paths)
        if "status" in paths and after.status is CanvasStatus.ARCHIVED and current.status is not CanvasStatus.ARCHIVED:
            raise InvalidArgument.field("canvas.status", "archive a canvas with ArchiveCanvas")
        if current.status is CanvasStatus.ARCHIVED and after.status is CanvasStatus.ARCHIVED:
            rules.ensure_editable(current)
        after = rules.validated_canvas(after)
        if not after.owner_id:
            raise InvalidArgument.field("canvas.owner_id", "is required")
        changed = CANVAS_FIELDS.changed(current, after)
        if not changed:
            return current
        after = _record(uow, current, after, "changed " + ", ".join(changed))
        uow.add_event(convert.canvas_updated(after, changed))
        uow.commit()
        return after


def archive_canvas(db: Database, canvas_id: str, *, expected_version: int = 0) -> Canvas:
    with db.uow() as uow:
        current = _stored(uow, canvas_id)
        check_version("canvas", current.id, current.version, expected_version)
        if current.status is CanvasStatus.ARCHIVED:
            return current
        after = _record(uow, current, replace(current, status=CanvasStatus.ARCHIVED), "archived")
        uow.add_event(convert.canvas_archived(after))
        uow.commit()
        return after


def delete_canvas(db: Database, canvas_id: str) -> None:
    with db.uow() as uow:
        current = _stored(uow, canvas_id)
        repository.delete_canvas(uow.session, current.id)
        uow.add_event(convert.canvas_deleted(current))
        uow.commit()


def prepare_copy(db: Database, canvas_id: str, name: str) -> NewCanvas:
    """A new draft canvas owned by the caller with copies of every note (links included), ready
    for create_canvas."""
    source = read_canvas(db, None, canvas_id, owners=None)
    draft = replace(
        source.canvas,
        id="",
        name=name.strip() or f"{source.canvas.name} (copy)"[:200],
        owner_id="",
        status=CanvasStatus.DRAFT,
    )
    notes = [replace(n, id="", canvas_id="") for n in source.notes]
    return prepare_canvas(
        _NoCheck(),
        draft,
        notes,
        summary=f"copied from canvas {canvas_id} at revision {source.canvas.version}",
    )


class _NoCheck:
    """The links of a copy were valid when written; a target retired since is shown as such."""

    def missing(self, links: Any) -> list[Link]:
        return []

    def resolve(self, links: Any, owners: Owners) -> ResolvedLinks:
        return {}


# --- Notes --------------------------------------------------------------------------------------


def prepare_note(directory: RecordsDirectory, draft: Note) -> Note:
    """Checks a new note and its links against the peer services, before any unit of work opens."""
    note = rules.validated_note(draft)
    check_links(directory, [note])
    return note


def add_note(uow: UnitOfWork, canvas_id: str, note: Note) -> tuple[Note, int]:
    """Adds a prepared note to an editable canvas; the note and the canvas's new version.
    Stages note_added."""
    canvas = _stored(uow, canvas_id)
    rules.ensure_editable(canvas)
    now = _now()
    made = replace(
        note, id=new_id(), canvas_id=canvas.id, author_id=current_actor(), created_at=now, updated_at=now, version=1
    )
    repository.add_notes(uow.session, [made])
    after = _record(uow, canvas, canvas, f"note added to {_title(made.block)}")
    uow.add_event(convert.note_added(made, after.version))
    return made, after.version


def _stored_note(uow: UnitOfWork, note_id: str) -> Note:
    if not note_id:
        raise InvalidArgument.field("note.id", "is required")
    note = repository.get_note(uow.session, note_id) if is_valid_id(note_id) else None
    if note is None:
        raise _note_not_found(note_id)
    return note


def update_note(
    db: Database, directory: RecordsDirectory, draft: Note, mask: Sequence[str], *, expected_version: int = 0
) -> tuple[Note, int]:
    """Changes the masked fields of one note. A stale `expected_version` is ABORTED carrying the
    current note; changes to other notes of the canvas never conflict with it."""
    paths = NOTE_FIELDS.check(mask)
    if "links" in paths:
        # Only the targets here: whether the note's block allows them is checked on the merged note.
        check_links(directory, [draft])
    with db.uow() as uow:
        current = _stored_note(uow, draft.id)
        canvas = _stored(uow, current.canvas_id)  # locks the canvas: changes to it queue
        current = _stored_note(uow, draft.id)
        rules.check_note_version(current, expected_version)
        rules.ensure_editable(canvas)
        after, changed = rules.note_changes(current, draft, paths)
        if not changed:
            return current, canvas.version
        after = replace(after, version=current.version + 1, updated_at=_now())
        if not repository.update_note(uow.session, after, current.version):
            raise rules.NoteConflict(current, current.version)
        summary = f"note changed in {_title(after.block)} ({', '.join(changed)})"
        canvas_after = _record(uow, canvas, canvas, summary)
        uow.add_event(convert.note_changed(after, changed, canvas_after.version))
        uow.commit()
        return after, canvas_after.version


def delete_note(db: Database, note_id: str, *, expected_version: int = 0) -> int:
    with db.uow() as uow:
        current = _stored_note(uow, note_id)
        canvas = _stored(uow, current.canvas_id)
        rules.check_note_version(current, expected_version)
        rules.ensure_editable(canvas)
        repository.delete_notes(uow.session, [current.id])
        after = _record(uow, canvas, canvas, f"note removed from {_title(current.block)}")
        uow.add_event(convert.note_removed(current, after.version))
        uow.commit()
        return after.version


# --- Revisions ----------------------------------------------------------------------------------


def list_revisions(db: Database, canvas_id: str, page_size: int, page_token: str) -> tuple[list[Revision], str]:
    read_canvas(db, None, canvas_id, owners=None)
    size = pagination.page_size(page_size)
    filters = {"canvas_id": canvas_id}
    key = pagination.decode_token(page_token, filters)
    before = key[0] if key else None
    if before is not None and not isinstance(before, int):
        raise InvalidArgument.field("page_token", "is not a token this list issued")
    with db.read() as session:
        rows = repository.list_revisions(session, canvas_id, limit=size + 1, before=before)
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, pagination.encode_token([rows[-1].number], filters)


def revision_view(
    db: Database, directory: RecordsDirectory | None, canvas_id: str, number: int, *, owners: Owners
) -> tuple[Revision, CanvasView]:
    """The canvas and its notes as revision `number` recorded them (0 = the current content),
    links resolved as read_canvas does."""
    current = read_canvas(db, None, canvas_id, owners=None)
    if number == 0:
        number = current.canvas.version
    if number < 0:
        raise InvalidArgument.field("revision_number", "must be positive")
    with db.read() as session:
        found = repository.get_revision(session, canvas_id, number)
    if found is None:
        raise NotFound(
            f"canvas '{canvas_id}' has no revision {number}",
            reason="revision_not_found",
            metadata={"canvas_id": canvas_id, "revision_number": str(number)},
        )
    revision, data = found
    canvas = replace(
        current.canvas,
        name=data["name"],
        description=data["description"],
        owner_id=data.get("owner_id", current.canvas.owner_id),
        status=CanvasStatus(data.get("status", current.canvas.status.value)),
        version=revision.number,
        updated_at=revision.created_at,
    )
    notes = rules.notes_of_snapshot(data, canvas_id)
    resolved = directory.resolve([k for n in notes for k in n.links], owners) if directory else {}
    return revision, CanvasView(canvas, notes, resolved)


def restore_revision(db: Database, canvas_id: str, number: int, *, expected_version: int = 0) -> Canvas:
    """Makes revision `number`'s name, description and notes current again, as a new revision;
    stages canvas_updated (changed_fields naming "notes" when they changed) and the note events."""
    if number <= 0:
        raise InvalidArgument.field("revision_number", "must be positive")
    with db.uow() as uow:
        canvas = _stored(uow, canvas_id)
        check_version("canvas", canvas.id, canvas.version, expected_version)
        rules.ensure_editable(canvas)
        found = repository.get_revision(uow.session, canvas_id, number)
        if found is None:
            raise NotFound(f"canvas '{canvas_id}' has no revision {number}", reason="revision_not_found")
        _, data = found
        now = _now()
        plan = rules.restore_plan(
            repository.notes_of(uow.session, canvas_id), rules.notes_of_snapshot(data, canvas_id), now
        )
        repository.delete_notes(uow.session, [n.id for n in plan.removed])
        repository.add_notes(uow.session, plan.added)
        for note in plan.changed:
            repository.update_note(uow.session, note, note.version - 1)
        target = replace(canvas, name=data["name"], description=data["description"])
        changed = [f for f in ("name", "description") if getattr(target, f) != getattr(canvas, f)]
        if plan.added or plan.changed or plan.removed:
            changed.append("notes")
        after = _record(uow, canvas, target, f"restored revision {number}")
        events: list[Any] = [convert.canvas_updated(after, changed)]
        events += [convert.note_added(n, after.version) for n in plan.added]
        events += [convert.note_changed(n, ["*"], after.version) for n in plan.changed]
        events += [convert.note_removed(n, after.version) for n in plan.removed]
        uow.add_events(events)
        uow.commit()
        return after


# --- JSON export and import ---------------------------------------------------------------------


def export_json(view: CanvasView) -> str:
    """A self-contained document: format, the canvas's fields, and its notes with their links."""
    doc = {
        "format": EXPORT_FORMAT,
        "name": view.canvas.name,
        "description": view.canvas.description,
        "notes": [
            {k: v for k, v in n.content().items() if k not in ("id", "author_id")}
            for n in sorted(view.notes, key=lambda n: (list(Block).index(n.block), n.order, n.id))
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def parse_export(text: str) -> tuple[Canvas, list[Note]]:
    """The canvas and notes of an exported document, or InvalidArgument naming what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument.field("json", f"is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise InvalidArgument.field("json", f"is not a canvas export (format '{EXPORT_FORMAT}')")
    raw_notes = doc.get("notes", [])
    if not isinstance(raw_notes, list):
        raise InvalidArgument.field("json.notes", "must be a list")
    notes: list[Note] = []
    problems: list[FieldViolation] = []
    for i, n in enumerate(raw_notes):
        where = f"json.notes[{i}]"
        if not isinstance(n, dict):
            problems.append(FieldViolation(where, "must be an object"))
            continue
        try:
            block = rules.parse_block(str(n.get("block", "")), f"{where}.block")
            links = []
            for j, link in enumerate(n.get("links") or []):
                try:
                    links.append(Link(LinkKind(link["kind"]), str(link["target_id"])))
                except (KeyError, TypeError, ValueError):
                    raise InvalidArgument.field(f"{where}.links[{j}]", "is not a link (kind, target_id)") from None
            notes.append(
                Note(
                    id="",
                    canvas_id="",
                    block=block,
                    text=str(n.get("text", "")),
                    color=str(n.get("color", "")),
                    order=int(n.get("order", 0)),
                    x=int(n.get("x", 0)),
                    y=int(n.get("y", 0)),
                    links=tuple(links),
                )
            )
        except InvalidArgument as exc:
            problems += exc.violations
        except (TypeError, ValueError):
            problems.append(FieldViolation(where, "order, x and y must be whole numbers"))
    if problems:
        raise InvalidArgument(problems)
    canvas = Canvas(id="", name=str(doc.get("name", "")), description=str(doc.get("description", "")))
    return canvas, notes


def prepare_import(directory: RecordsDirectory, text: str, name: str) -> NewCanvas:
    """A new draft canvas owned by the caller from an exported document, ready for
    create_canvas; links whose target does not exist here are dropped and reported as warnings."""
    canvas, notes = parse_export(text)
    if name.strip():
        canvas = replace(canvas, name=name)
    notes = [rules.validated_note(n, f"json.notes[{i}]") for i, n in enumerate(notes)]
    missing = set(directory.missing([k for n in notes for k in n.links]))
    warnings = tuple(
        f"{m.kind.value} '{m.target_id}' does not exist here: its link was left out"
        for m in sorted(missing, key=lambda m: (m.kind.value, m.target_id))
    )
    notes = [replace(n, links=tuple(k for k in n.links if k not in missing)) for n in notes]
    new = prepare_canvas(_NoCheck(), canvas, notes, summary="imported from JSON")
    return replace(new, warnings=warnings)
