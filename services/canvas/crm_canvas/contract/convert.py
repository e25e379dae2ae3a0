"""Canvas messages ↔ domain objects: requests, responses and the integration events."""

from __future__ import annotations

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import events_pb2
from crm_canvas.adapters.records import ResolvedLinks
from crm_canvas.domain.canvas import Block, Canvas, CanvasStatus, Link, LinkKind, Note, Revision
from crm_platform.errors import InvalidArgument
from crm_platform.protoconv import EnumMap, timestamp

BLOCKS = EnumMap(
    "canvas block",
    {
        Block.KEY_PARTNERS: pb.CANVAS_BLOCK_KEY_PARTNERS,
        Block.KEY_ACTIVITIES: pb.CANVAS_BLOCK_KEY_ACTIVITIES,
        Block.KEY_RESOURCES: pb.CANVAS_BLOCK_KEY_RESOURCES,
        Block.VALUE_PROPOSITIONS: pb.CANVAS_BLOCK_VALUE_PROPOSITIONS,
        Block.CUSTOMER_RELATIONSHIPS: pb.CANVAS_BLOCK_CUSTOMER_RELATIONSHIPS,
        Block.CHANNELS: pb.CANVAS_BLOCK_CHANNELS,
        Block.CUSTOMER_SEGMENTS: pb.CANVAS_BLOCK_CUSTOMER_SEGMENTS,
        Block.COST_STRUCTURE: pb.CANVAS_BLOCK_COST_STRUCTURE,
        Block.REVENUE_STREAMS: pb.CANVAS_BLOCK_REVENUE_STREAMS,
    },
)
STATUSES = EnumMap(
    "canvas status",
    {
        CanvasStatus.DRAFT: pb.CANVAS_STATUS_DRAFT,
        CanvasStatus.ACTIVE: pb.CANVAS_STATUS_ACTIVE,
        CanvasStatus.ARCHIVED: pb.CANVAS_STATUS_ARCHIVED,
    },
)
KINDS = EnumMap(
    "link kind",
    {
        LinkKind.PRODUCT: pb.LINK_KIND_PRODUCT,
        LinkKind.CLIENT_SEGMENT: pb.LINK_KIND_CLIENT_SEGMENT,
        LinkKind.CAMPAIGN: pb.LINK_KIND_CAMPAIGN,
    },
)


def block_from_proto(number: int, field: str = "note.block") -> Block | None:
    return BLOCKS.from_proto(number, field)


def note_from_proto(msg: pb.Note, field: str = "note", *, require_block: bool = True) -> Note:
    block = BLOCKS.from_proto(msg.block, f"{field}.block")
    if block is None and require_block:
        raise InvalidArgument.field(f"{field}.block", "is required: one of the nine blocks")
    links: list[Link] = []
    for i, link in enumerate(msg.links):
        kind = KINDS.from_proto(link.kind, f"{field}.links[{i}].kind")
        if kind is None:
            raise InvalidArgument.field(f"{field}.links[{i}].kind", "is required")
        links.append(Link(kind, link.target_id))
    return Note(
        id=msg.id,
        canvas_id=msg.canvas_id,
        block=block or Block.KEY_PARTNERS,
        text=msg.text,
        color=msg.color,
        order=msg.order,
        x=msg.x,
        y=msg.y,
        links=tuple(links),
    )


def canvas_from_proto(msg: pb.Canvas) -> Canvas:
    return Canvas(
        id=msg.id,
        name=msg.name,
        description=msg.description,
        owner_id=msg.owner_id,
        status=STATUSES.from_proto(msg.status, "canvas.status") or CanvasStatus.DRAFT,
    )


def note_to_proto(note: Note, resolved: ResolvedLinks | None = None) -> pb.Note:
    links = []
    for link in note.links:
        found = (resolved or {}).get((link.kind, link.target_id))
        if found is not None:
            links.append(found)
        else:
            links.append(pb.NoteLink(kind=KINDS.to_proto(link.kind), target_id=link.target_id))
    return pb.Note(
        id=note.id,
        canvas_id=note.canvas_id,
        block=BLOCKS.to_proto(note.block),
        text=note.text,
        color=note.color,
        order=note.order,
        x=note.x,
        y=note.y,
        author_id=note.author_id,
        links=links,
        create_time=timestamp(note.created_at),
        update_time=timestamp(note.updated_at),
        version=note.version,
    )


def canvas_to_proto(
    canvas: Canvas, notes: list[Note] | tuple[Note, ...] = (), resolved: ResolvedLinks | None = None
) -> pb.Canvas:
    return pb.Canvas(
        id=canvas.id,
        name=canvas.name,
        description=canvas.description,
        owner_id=canvas.owner_id,
        status=STATUSES.to_proto(canvas.status),
        notes=[note_to_proto(n, resolved) for n in notes],
        create_time=timestamp(canvas.created_at),
        update_time=timestamp(canvas.updated_at),
        version=canvas.version,
    )


def revision_to_proto(r: Revision) -> pb.Revision:
    return pb.Revision(
        canvas_id=r.canvas_id,
        revision_number=r.number,
        author_id=r.author_id,
        summary=r.summary,
        create_time=timestamp(r.created_at),
    )


# --- Integration events -------------------------------------------------------------------------


def canvas_created(canvas: Canvas) -> events_pb2.CanvasCreated:
    return events_pb2.CanvasCreated(canvas=canvas_to_proto(canvas))


def canvas_updated(canvas: Canvas, changed_fields: list[str]) -> events_pb2.CanvasUpdated:
    return events_pb2.CanvasUpdated(canvas=canvas_to_proto(canvas), changed_fields=changed_fields)


def canvas_archived(canvas: Canvas) -> events_pb2.CanvasArchived:
    return events_pb2.CanvasArchived(canvas=canvas_to_proto(canvas))


def canvas_deleted(canvas: Canvas) -> events_pb2.CanvasDeleted:
    return events_pb2.CanvasDeleted(canvas=canvas_to_proto(canvas))


def note_added(note: Note, canvas_version: int) -> events_pb2.NoteAdded:
    return events_pb2.NoteAdded(note=note_to_proto(note), canvas_version=canvas_version)


def note_changed(note: Note, changed_fields: list[str], canvas_version: int) -> events_pb2.NoteChanged:
    return events_pb2.NoteChanged(
        note=note_to_proto(note), changed_fields=changed_fields, canvas_version=canvas_version
    )


def note_removed(note: Note, canvas_version: int) -> events_pb2.NoteRemoved:
    return events_pb2.NoteRemoved(note=note_to_proto(note), canvas_version=canvas_version)
