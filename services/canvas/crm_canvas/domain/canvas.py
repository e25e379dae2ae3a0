"""The business-model canvas as plain Python: canvases, the nine blocks, notes and their links to
CRM records, the rules of a valid note, the per-note conflict rule, and revisions as snapshots of
the canvas's notes (what a revision holds and what restoring one changes). No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_platform.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument


class Block(StrEnum):
    KEY_PARTNERS = "key_partners"
    KEY_ACTIVITIES = "key_activities"
    KEY_RESOURCES = "key_resources"
    VALUE_PROPOSITIONS = "value_propositions"
    CUSTOMER_RELATIONSHIPS = "customer_relationships"
    CHANNELS = "channels"
    CUSTOMER_SEGMENTS = "customer_segments"
    COST_STRUCTURE = "cost_structure"
    REVENUE_STREAMS = "revenue_streams"


# Block titles as printed (Spanish first: the users' language).
BLOCK_TITLES: dict[Block, tuple[str, str]] = {
    Block.KEY_PARTNERS: ("Socios clave", "Key partners"),
    Block.KEY_ACTIVITIES: ("Actividades clave", "Key activities"),
    Block.KEY_RESOURCES: ("Recursos clave", "Key resources"),
    Block.VALUE_PROPOSITIONS: ("Propuestas de valor", "Value propositions"),
    Block.CUSTOMER_RELATIONSHIPS: ("Relaciones con clientes", "Customer relationships"),
    Block.CHANNELS: ("Canales", "Channels"),
    Block.CUSTOMER_SEGMENTS: ("Segmentos de clientes", "Customer segments"),
    Block.COST_STRUCTURE: ("Estructura de costos", "Cost structure"),
    Block.REVENUE_STREAMS: ("Fuentes de ingresos", "Revenue streams"),
}


class CanvasStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class LinkKind(StrEnum):
    PRODUCT = "product"
    CLIENT_SEGMENT = "client_segment"
    CAMPAIGN = "campaign"


# Which records a note of each block may link to (the glossary's links; other blocks hold text).
LINKABLE: dict[Block, frozenset[LinkKind]] = {
    Block.VALUE_PROPOSITIONS: frozenset({LinkKind.PRODUCT}),
    Block.REVENUE_STREAMS: frozenset({LinkKind.PRODUCT}),
    Block.CUSTOMER_SEGMENTS: frozenset({LinkKind.CLIENT_SEGMENT}),
    Block.CHANNELS: frozenset({LinkKind.CAMPAIGN}),
}

MAX_TEXT = 2000
MAX_LINKS = 20
MAX_NOTES = 1000
MAX_POSITION = 100_000
DEFAULT_COLOR = "#FFE066"
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def parse_block(name: str, field_name: str = "block") -> Block:
    """The block called `name` ("value_propositions"; case and dashes are forgiven), or
    InvalidArgument naming it."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return Block(key)
    except ValueError:
        known = ", ".join(b.value for b in Block)
        raise InvalidArgument.field(field_name, f"unknown block '{name}'; the blocks are {known}") from None


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    target_id: str


@dataclass(frozen=True)
class Note:
    id: str
    canvas_id: str
    block: Block
    text: str
    color: str = DEFAULT_COLOR
    order: int = 0
    x: int = 0
    y: int = 0
    author_id: str = ""
    links: tuple[Link, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    def content(self) -> dict[str, Any]:
        """What a revision keeps of the note (and what restoring gives back)."""
        return {
            "id": self.id,
            "block": self.block.value,
            "text": self.text,
            "color": self.color,
            "order": self.order,
            "x": self.x,
            "y": self.y,
            "author_id": self.author_id,
            "links": [{"kind": link.kind.value, "target_id": link.target_id} for link in self.links],
        }


@dataclass(frozen=True)
class Canvas:
    id: str
    name: str
    description: str = ""
    owner_id: str = ""
    status: CanvasStatus = CanvasStatus.DRAFT
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0
    notes: tuple[Note, ...] = field(default=())

    @property
    def search_text(self) -> str:
        return f"{self.name} {self.description}".casefold()


# --- Validation ---------------------------------------------------------------------------------


def validated_canvas(canvas: Canvas, prefix: str = "canvas") -> Canvas:
    problems: list[FieldViolation] = []
    name = canvas.name.strip()
    if not name:
        problems.append(FieldViolation(f"{prefix}.name", "is required"))
    elif len(name) > 200:
        problems.append(FieldViolation(f"{prefix}.name", "at most 200 characters"))
    if len(canvas.description) > 5000:
        problems.append(FieldViolation(f"{prefix}.description", "at most 5000 characters"))
    if problems:
        raise InvalidArgument(problems)
    return replace(canvas, name=name)


def validated_note(note: Note, prefix: str = "note") -> Note:
    """The note with its text trimmed, colour normalised and links deduplicated, or
    InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    text = note.text.strip()
    if not text:
        problems.append(FieldViolation(f"{prefix}.text", "is required"))
    elif len(text) > MAX_TEXT:
        problems.append(FieldViolation(f"{prefix}.text", f"at most {MAX_TEXT} characters"))
    color = note.color.strip() or DEFAULT_COLOR
    if not _COLOR.match(color):
        problems.append(FieldViolation(f"{prefix}.color", f"'{note.color}' is not a colour like #FFE066"))
    for name in ("order", "x", "y"):
        value = getattr(note, name)
        if not 0 <= value <= MAX_POSITION:
            problems.append(FieldViolation(f"{prefix}.{name}", f"must be between 0 and {MAX_POSITION}"))
    if len(note.links) > MAX_LINKS:
        problems.append(FieldViolation(f"{prefix}.links", f"at most {MAX_LINKS} links"))
    allowed = LINKABLE.get(note.block, frozenset())
    for i, link in enumerate(note.links):
        if not link.target_id.strip():
            problems.append(FieldViolation(f"{prefix}.links[{i}].target_id", "is required"))
        if link.kind not in allowed:
            can = ", ".join(sorted(k.value for k in allowed)) or "nothing"
            problems.append(
                FieldViolation(
                    f"{prefix}.links[{i}].kind",
                    f"a note of {note.block.value} cannot link to a {link.kind.value} (it may link to {can})",
                )
            )
    if problems:
        raise InvalidArgument(problems)
    links = tuple(dict.fromkeys(Link(k.kind, k.target_id.strip()) for k in note.links))
    return replace(note, text=text, color=color.upper(), links=links)


def ensure_editable(canvas: Canvas) -> None:
    if canvas.status is CanvasStatus.ARCHIVED:
        raise FailedPrecondition(
            f"canvas '{canvas.id}' is archived: make it active again before changing it",
            reason="canvas_archived",
            metadata={"id": canvas.id},
        )


class NoteConflict(Conflict):
    """Someone else changed the note since the caller read it; the current note travels along."""

    def __init__(self, note: Note, expected: int):
        super().__init__(
            f"note '{note.id}' is at version {note.version}, not {expected}: someone else changed it; "
            "read it again and retry",
            reason="note_version_mismatch",
            metadata={"note_id": note.id, "current_version": str(note.version), "expected_version": str(expected)},
        )
        self.note = note


def check_note_version(note: Note, expected: int) -> None:
    """The conflict rule: a change naming a version (non-zero) applies only to that version of the
    note. Other notes of the same canvas never conflict (they have their own versions)."""
    if expected and expected != note.version:
        raise NoteConflict(note, expected)


NOTE_FIELDS = ("block", "text", "color", "order", "x", "y", "links")


def note_changes(current: Note, draft: Note, mask: frozenset[str]) -> tuple[Note, list[str]]:
    """The note with the masked fields taken from `draft` (validated) and the names that changed."""
    after = validated_note(replace(current, **{name: getattr(draft, name) for name in mask}))
    changed = [name for name in NOTE_FIELDS if getattr(after, name) != getattr(current, name)]
    return after, changed


# --- Revisions ----------------------------------------------------------------------------------

SNAPSHOT_FORMAT = 1


def snapshot(canvas: Canvas, notes: list[Note] | tuple[Note, ...]) -> dict[str, Any]:
    """What a revision keeps: the canvas's fields and every note's content, in block/order order."""
    ordered = sorted(notes, key=lambda n: (list(Block).index(n.block), n.order, n.id))
    return {
        "format": SNAPSHOT_FORMAT,
        "name": canvas.name,
        "description": canvas.description,
        "owner_id": canvas.owner_id,
        "status": canvas.status.value,
        "notes": [n.content() for n in ordered],
    }


def notes_of_snapshot(data: dict[str, Any], canvas_id: str) -> list[Note]:
    return [
        Note(
            id=n["id"],
            canvas_id=canvas_id,
            block=Block(n["block"]),
            text=n["text"],
            color=n["color"],
            order=n["order"],
            x=n["x"],
            y=n["y"],
            author_id=n.get("author_id", ""),
            links=tuple(Link(LinkKind(link["kind"]), link["target_id"]) for link in n.get("links", [])),
        )
        for n in data.get("notes", [])
    ]


@dataclass(frozen=True)
class RestorePlan:
    added: list[Note]
    changed: list[Note]
    removed: list[Note]


def restore_plan(current: list[Note], wanted: list[Note], now: datetime) -> RestorePlan:
    """What to change so that the canvas holds exactly `wanted`'s notes: notes gone since come back
    (same ids), changed ones take their old content (a new version), newer ones are removed."""
    by_id = {n.id: n for n in current}
    added: list[Note] = []
    changed: list[Note] = []
    for want in wanted:
        have = by_id.pop(want.id, None)
        if have is None:
            added.append(replace(want, created_at=now, updated_at=now, version=1))
        elif have.content() != want.content():
            changed.append(replace(want, created_at=have.created_at, updated_at=now, version=have.version + 1))
    return RestorePlan(added, changed, list(by_id.values()))


@dataclass(frozen=True)
class Revision:
    canvas_id: str
    number: int
    author_id: str
    summary: str
    created_at: datetime
