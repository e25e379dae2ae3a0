"""/api/v1/canvases: business-model canvases (nine blocks of notes linked to products, client
segments and campaigns), their notes, revisions, PDF and JSON export and import.

Access: a canvas is the team's shared thinking, so every signed-in user may read every canvas
(list, get, revisions, PDF, export). What a canvas's links show follows the reader's visibility
(the owners whose campaigns and deals they may see, passed to the canvas service): a campaign
they may not see reads as `restricted` (no name, no figures), and a client segment's won amounts
cover only the deals they may see (a rep: their own; a manager: their teams'; an admin: all).
Changing one — its fields, archive, delete, restore, and its
notes — is for its owner, the owner's manager (the users of the teams they lead) and admins
(crm_gateway.access.change_scope); others get 403. Anyone may copy or import a canvas: the new
canvas is theirs.

Notes carry their own versions: PATCH and DELETE of a note take If-Match with the note's ETag
(or `expected_version` in the body); a stale one answers 409 with the current note in the problem's
`current` member, so that two people editing different notes never lose each other's work and a
conflicting edit of the same note can be merged by hand."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from flask import Response, url_for
from google.protobuf.field_mask_pb2 import FieldMask
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import canvas_pb2_grpc
from crm_gateway.access import assignable_owner, change_scope, principal, read_scope
from crm_gateway.api import (
    ProblemError,
    UpstreamError,
    call,
    check_version,
    etag,
    idempotency_key,
    if_match,
    respond,
)
from crm_gateway.convert import ProtoJson, ProtoPage, enum_member, enum_words, page, to_json
from crm_gateway.lists import Id, PageToken
from crm_gateway.routing import CHANGE, Resource
from crm_platform.grpc_client import stub

res = Resource(
    "canvases",
    "Canvases",
    "Business-model canvases (Canvas): nine blocks of notes linked to products, client segments and campaigns.",
)

BLOCKS = enum_words(pb.CanvasBlock.DESCRIPTOR)
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=5000)]
Position = Annotated[int, Field(ge=0, le=100_000)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Status = Literal["draft", "active"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LinkIn(_Strict):
    kind: Literal["product", "client_segment", "campaign"]
    target_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="A product id, a client segment tag, or a campaign id."
    )


class NoteIn(_Strict):
    """A note: `block` is one of key_partners, key_activities, key_resources, value_propositions,
    customer_relationships, channels, customer_segments, cost_structure, revenue_streams."""

    block: Annotated[str, StringConstraints(max_length=60)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    color: Color | None = None
    order: Position = 0
    x: Position = 0
    y: Position = 0
    links: Annotated[list[LinkIn], Field(max_length=20)] = []


class NotePatch(_Strict):
    block: Annotated[str, StringConstraints(max_length=60)] | None = None
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    color: Color | None = None
    order: Position | None = None
    x: Position | None = None
    y: Position | None = None
    links: Annotated[list[LinkIn], Field(max_length=20)] | None = None
    expected_version: Annotated[int, Field(ge=0, description="The note's version (or send If-Match).")] = 0


class CanvasCreate(_Strict):
    name: Name
    description: Text = ""
    owner_id: Id | None = None
    status: Status | None = None
    notes: Annotated[list[NoteIn], Field(max_length=1000)] = []


class CanvasPatch(_Strict):
    name: Name | None = None
    description: Text | None = None
    owner_id: Id | None = None
    status: Status | None = Field(None, description="draft or active (an archived canvas becomes active again).")


class CanvasListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200)] = ""
    owner_id: Annotated[list[Id], Field(max_length=100)] = []
    status: Literal["draft", "active", "archived"] | None = None
    include_archived: bool = False
    page_size: Annotated[int, Field(ge=0, le=10_000)] = 0
    page_token: PageToken = ""


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[int, Field(ge=0, le=10_000)] = 0
    page_token: PageToken = ""


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: Annotated[int, Field(ge=0, description="0 = the current content.")] = 0


class CopyIn(_Strict):
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class ImportIn(_Strict):
    document: dict[str, Any] = Field(description="A document from GET /api/v1/canvases/{id}/export.")
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class Empty(_Strict):
    pass


ONE = ProtoJson(pb.Canvas)
NOTE = ProtoJson(pb.Note)


def _stub() -> Any:
    return stub(canvas_pb2_grpc.CanvasServiceStub, "canvas")


def _call(rpc: str, req: Any) -> Any:
    return call("canvas", getattr(_stub(), rpc), req)


def _reader_owner_ids() -> list[str]:
    """The owners whose records a link's figures may show the caller (empty = all: an admin):
    campaign links show campaigns, segment links show deals, so both scopes bound them."""
    scopes = [s for s in (read_scope("campaigns"), read_scope("deals")) if s is not None]
    if not scopes:
        return []
    return sorted(set.intersection(*scopes))


def _fetch(canvas_id: str) -> pb.Canvas:
    req = pb.GetCanvasRequest(id=canvas_id, allowed_owner_ids=_reader_owner_ids())
    return _call("GetCanvas", req).canvas


def _changeable(canvas_id: str) -> pb.Canvas:
    """The canvas, if the caller may change it (its owner, their manager, an admin): 403 otherwise."""
    canvas = _fetch(canvas_id)
    scope = change_scope()
    if scope is not None and canvas.owner_id not in scope:
        raise ProblemError(403, "forbidden", "you may not change this canvas: it is not yours or your team's")
    return canvas


def _block(word: str, field: str) -> pb.CanvasBlock:
    key = word.strip().lower().replace("-", "_")
    if key not in BLOCKS:
        message = f"unknown block '{word}'; the blocks are {', '.join(BLOCKS)}"
        raise ProblemError(400, "unknown_block", f"{field}: {message}", errors=[{"field": field, "message": message}])
    return enum_member(pb.CanvasBlock, key)


def _links(links: list[LinkIn]) -> list[pb.NoteLink]:
    return [pb.NoteLink(kind=enum_member(pb.LinkKind, k.kind), target_id=k.target_id) for k in links]


def _note(body: NoteIn, field: str) -> pb.Note:
    return pb.Note(
        block=_block(body.block, f"{field}block"),
        text=body.text,
        color=body.color or "",
        order=body.order,
        x=body.x,
        y=body.y,
        links=_links(body.links),
    )


# --- Canvases -----------------------------------------------------------------------------------


@res.route("GET", "/api/v1/canvases", query=CanvasListQuery, response=ProtoPage(pb.Canvas))
def list_canvases(query: CanvasListQuery) -> Response:
    """List canvases (every user sees every canvas; archived ones only when asked)."""
    req = pb.ListCanvasesRequest(
        query=query.q,
        owner_ids=query.owner_id,
        include_archived=query.include_archived,
        page_size=query.page_size,
        page_token=query.page_token,
    )
    if query.status:
        req.status = enum_member(pb.CanvasStatus, query.status)
    answer = _call("ListCanvases", req)
    return respond(page(list(answer.canvases), answer.next_page_token))


@res.route(
    "POST",
    "/api/v1/canvases",
    body=CanvasCreate,
    response=ONE,
    status=201,
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_canvas(body: CanvasCreate) -> Response:
    """Create a canvas (a draft unless status is active), optionally with its notes."""
    owner = assignable_owner(body.owner_id)
    canvas = pb.Canvas(
        name=body.name,
        description=body.description,
        owner_id=owner,
        notes=[_note(n, f"notes[{i}].") for i, n in enumerate(body.notes)],
    )
    if body.status:
        canvas.status = enum_member(pb.CanvasStatus, body.status)
    req = pb.CreateCanvasRequest(canvas=canvas, request_id=idempotency_key(principal().id))
    made = _call("CreateCanvas", req).canvas
    location = url_for("canvases.get_canvas", canvas_id=made.id)
    return respond(to_json(made), 201, {"Location": location, **etag(made.version)})


@res.route("GET", "/api/v1/canvases/<id:canvas_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_canvas(canvas_id: str) -> Response:
    """Get a canvas with its notes and their links' live figures, as the caller may see them: a link
    to a campaign they may not see has state `restricted` and no label or figures; a client
    segment's won deals and amounts count only the deals they may see (a rep: their own, a manager:
    their teams', an admin: all)."""
    canvas = _fetch(canvas_id)
    return respond(to_json(canvas), headers=etag(canvas.version))


@res.route("PATCH", "/api/v1/canvases/<id:canvas_id>", body=CanvasPatch, response=ONE, **CHANGE)
def update_canvas(canvas_id: str, body: CanvasPatch) -> Response:
    """Update a canvas's name, description, owner or status (If-Match: the canvas's ETag)."""
    current = _changeable(canvas_id)
    expected = check_version(if_match(), current.version, "canvas")
    given = body.model_dump(exclude_unset=True)
    if not given:
        raise ProblemError(400, "empty_patch", "name at least one field to change")
    draft = pb.Canvas(id=canvas_id, name=body.name or "", description=body.description or "")
    if "owner_id" in given:
        draft.owner_id = assignable_owner(body.owner_id)
    if body.status:
        draft.status = enum_member(pb.CanvasStatus, body.status)
    req = pb.UpdateCanvasRequest(canvas=draft, update_mask=FieldMask(paths=sorted(given)), expected_version=expected)
    after = _call("UpdateCanvas", req).canvas
    return respond(to_json(after), headers=etag(after.version))


@res.route("DELETE", "/api/v1/canvases/<id:canvas_id>", status=204, errors=(404,))
def delete_canvas(canvas_id: str) -> Response:
    """Delete a canvas with its notes and revisions."""
    _changeable(canvas_id)
    _call("DeleteCanvas", pb.DeleteCanvasRequest(id=canvas_id))
    return Response(status=204)


@res.route("POST", "/api/v1/canvases/<id:canvas_id>:archive", body=Empty, response=ONE, **CHANGE)
def archive_canvas(canvas_id: str, body: Empty) -> Response:
    """Archive a canvas (read only until made active again)."""
    current = _changeable(canvas_id)
    expected = check_version(if_match(), current.version, "canvas")
    after = _call("ArchiveCanvas", pb.ArchiveCanvasRequest(id=canvas_id, expected_version=expected)).canvas
    return respond(to_json(after), headers=etag(after.version))


@res.route(
    "POST",
    "/api/v1/canvases/<id:canvas_id>:copy",
    body=CopyIn,
    response=ONE,
    status=201,
    errors=(404,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def copy_canvas(canvas_id: str, body: CopyIn) -> Response:
    """Copy a canvas with every note into a new draft owned by the caller."""
    req = pb.CopyCanvasRequest(canvas_id=canvas_id, name=body.name, request_id=idempotency_key(principal().id))
    made = _call("CopyCanvas", req).canvas
    location = url_for("canvases.get_canvas", canvas_id=made.id)
    return respond(to_json(made), 201, {"Location": location, **etag(made.version)})


# --- Notes --------------------------------------------------------------------------------------


@res.route(
    "POST",
    "/api/v1/canvases/<id:canvas_id>/notes",
    body=NoteIn,
    response=NOTE,
    status=201,
    errors=(404,),
    response_headers=("ETag",),
    request_headers=("Idempotency-Key",),
)
def add_note(canvas_id: str, body: NoteIn) -> Response:
    """Add a note to a block of the canvas."""
    _changeable(canvas_id)
    req = pb.AddNoteRequest(canvas_id=canvas_id, note=_note(body, ""), request_id=idempotency_key(principal().id))
    answer = _call("AddNote", req)
    return respond(to_json(answer.note), 201, etag(answer.note.version))


def _note_conflict(canvas_id: str, note_id: str, exc: UpstreamError) -> ProblemError:
    current = next((n for n in _fetch(canvas_id).notes if n.id == note_id), None)
    return ProblemError(
        409,
        exc.info.reason or "note_version_mismatch",
        exc.info.message,
        current=to_json(current) if current is not None else None,
    )


def _expected_note_version(body_version: int) -> int:
    named = if_match()
    return named if named is not None else body_version


@res.route(
    "PATCH",
    "/api/v1/canvases/<id:canvas_id>/notes/<id:note_id>",
    body=NotePatch,
    response=NOTE,
    **CHANGE,
)
def update_note(canvas_id: str, note_id: str, body: NotePatch) -> Response:
    """Change a note (If-Match: the note's ETag); a stale version answers 409 with the current note."""
    canvas = _changeable(canvas_id)
    if note_id not in {n.id for n in canvas.notes}:
        raise ProblemError(404, "note_not_found", f"note '{note_id}' not found on canvas '{canvas_id}'")
    given = body.model_dump(exclude_unset=True)
    given.pop("expected_version", None)
    if not given:
        raise ProblemError(400, "empty_patch", "name at least one field to change")
    draft = pb.Note(
        id=note_id,
        text=body.text or "",
        color=body.color or "",
        order=body.order or 0,
        x=body.x or 0,
        y=body.y or 0,
        links=_links(body.links or []),
    )
    if body.block is not None:
        draft.block = _block(body.block, "block")
    req = pb.UpdateNoteRequest(
        note=draft,
        update_mask=FieldMask(paths=sorted(given)),
        expected_version=_expected_note_version(body.expected_version),
    )
    try:
        answer = _call("UpdateNote", req)
    except UpstreamError as exc:
        if exc.info.reason == "note_version_mismatch":
            raise _note_conflict(canvas_id, note_id, exc) from None
        raise
    return respond(to_json(answer.note), headers=etag(answer.note.version))


@res.route(
    "DELETE",
    "/api/v1/canvases/<id:canvas_id>/notes/<id:note_id>",
    status=204,
    errors=(404, 409),
    request_headers=("If-Match",),
)
def delete_note(canvas_id: str, note_id: str) -> Response:
    """Remove a note (If-Match: the note's ETag; a stale one answers 409 with the current note)."""
    canvas = _changeable(canvas_id)
    if note_id not in {n.id for n in canvas.notes}:
        raise ProblemError(404, "note_not_found", f"note '{note_id}' not found on canvas '{canvas_id}'")
    try:
        _call("DeleteNote", pb.DeleteNoteRequest(note_id=note_id, expected_version=_expected_note_version(0)))
    except UpstreamError as exc:
        if exc.info.reason == "note_version_mismatch":
            raise _note_conflict(canvas_id, note_id, exc) from None
        raise
    return Response(status=204)


# --- Revisions ----------------------------------------------------------------------------------


def _revision_number(text: str) -> int:
    """A revision number from the path (a plain segment, so that an unauthenticated call is a 401
    whatever it names, never a routing 404)."""
    if not text.isdigit() or not 0 < int(text) < 2**62:
        raise ProblemError(404, "revision_not_found", f"there is no revision '{text}'")
    return int(text)


@res.route(
    "GET", "/api/v1/canvases/<id:canvas_id>/revisions", query=PageQuery, response=ProtoPage(pb.Revision), errors=(404,)
)
def list_revisions(canvas_id: str, query: PageQuery) -> Response:
    """The canvas's revisions, newest first (who, when, what changed)."""
    req = pb.ListRevisionsRequest(canvas_id=canvas_id, page_size=query.page_size, page_token=query.page_token)
    answer = _call("ListRevisions", req)
    return respond(page(list(answer.revisions), answer.next_page_token))


@res.route(
    "GET",
    "/api/v1/canvases/<id:canvas_id>/revisions/<id:number>",
    response=ProtoJson(pb.GetRevisionResponse),
    errors=(404,),
)
def get_revision(canvas_id: str, number: str) -> Response:
    """The canvas and its notes as one revision recorded them."""
    req = pb.GetRevisionRequest(
        canvas_id=canvas_id, revision_number=_revision_number(number), allowed_owner_ids=_reader_owner_ids()
    )
    return respond(to_json(_call("GetRevision", req)))


@res.route(
    "POST",
    "/api/v1/canvases/<id:canvas_id>/revisions/<id:number>:restore",
    body=Empty,
    response=ONE,
    **CHANGE,
)
def restore_revision(canvas_id: str, number: str, body: Empty) -> Response:
    """Make a revision's notes current again, as a new revision (If-Match: the canvas's ETag)."""
    revision_number = _revision_number(number)
    current = _changeable(canvas_id)
    expected = check_version(if_match(), current.version, "canvas")
    req = pb.RestoreRevisionRequest(
        canvas_id=canvas_id,
        revision_number=revision_number,
        expected_version=expected,
        allowed_owner_ids=_reader_owner_ids(),
    )
    after = _call("RestoreRevision", req).canvas
    return respond(to_json(after), headers=etag(after.version))


# --- Export and import --------------------------------------------------------------------------


@res.route(
    "GET", "/api/v1/canvases/<id:canvas_id>/pdf", query=ExportQuery, content_type="application/pdf", errors=(404,)
)
def canvas_pdf(canvas_id: str, query: ExportQuery) -> Response:
    """The canvas as a one-page landscape PDF in the classic nine-block layout."""
    req = pb.ExportCanvasPdfRequest(
        canvas_id=canvas_id, revision_number=query.revision, allowed_owner_ids=_reader_owner_ids()
    )
    rendered = _call("ExportCanvasPdf", req)
    return Response(
        rendered.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{rendered.filename}"'},
    )


@res.route("GET", "/api/v1/canvases/<id:canvas_id>/export", query=ExportQuery, errors=(404,))
def export_canvas(canvas_id: str, query: ExportQuery) -> Response:
    """The canvas as a JSON document that POST /api/v1/canvases:import reads back."""
    answer = _call("ExportCanvasJson", pb.ExportCanvasJsonRequest(canvas_id=canvas_id, revision_number=query.revision))
    return respond(
        json.loads(answer.json), headers={"Content-Disposition": f'attachment; filename="{answer.filename}"'}
    )


@res.route(
    "POST",
    "/api/v1/canvases:import",
    body=ImportIn,
    response=ProtoJson(pb.ImportCanvasJsonResponse),
    status=201,
    response_headers=("Location",),
    request_headers=("Idempotency-Key",),
)
def import_canvas(body: ImportIn) -> Response:
    """A new draft canvas owned by the caller from an exported document (missing link targets are
    left out and listed in warnings)."""
    req = pb.ImportCanvasJsonRequest(
        json=json.dumps(body.document), name=body.name, request_id=idempotency_key(principal().id)
    )
    answer = _call("ImportCanvasJson", req)
    location = url_for("canvases.get_canvas", canvas_id=answer.canvas.id)
    return respond(to_json(answer), 201, {"Location": location})
