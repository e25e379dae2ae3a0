"""The CanvasService gRPC servicer: translates messages and calls the use cases."""

from __future__ import annotations

import re
from collections.abc import Sequence

import grpc

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import canvas_pb2_grpc
from crm_canvas.adapters.pdf import render_canvas_pdf
from crm_canvas.adapters.records import Owners, RecordsDirectory
from crm_canvas.contract.convert import (
    STATUSES,
    canvas_from_proto,
    canvas_to_proto,
    note_from_proto,
    note_to_proto,
    revision_to_proto,
)
from crm_canvas.service_layer import canvases
from crm_canvas.service_layer.canvases import CanvasView, NewCanvas
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.idempotency import run_once
from crm_platform.listing import MAX_OWNER_IDS, owner_filter


def _filename(name: str, version: int, ext: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "canvas"
    return f"canvas-{slug}-v{version}.{ext}"


def _reader(allowed_owner_ids: Sequence[str]) -> Owners:
    """The owners whose records' figures the reader may see (None = every owner, when the caller
    names none: an admin)."""
    if len(allowed_owner_ids) > MAX_OWNER_IDS:
        raise InvalidArgument.field("allowed_owner_ids", f"at most {MAX_OWNER_IDS} owners")
    blank = [
        FieldViolation(f"allowed_owner_ids[{i}]", "must not be empty") for i, o in enumerate(allowed_owner_ids) if not o
    ]
    if blank:
        raise InvalidArgument(blank)
    return frozenset(allowed_owner_ids) or None


def _view(view: CanvasView) -> pb.Canvas:
    return canvas_to_proto(view.canvas, view.notes, view.resolved)


class CanvasServicer(canvas_pb2_grpc.CanvasServiceServicer):
    def __init__(self, db: Database, directory: RecordsDirectory):
        self.db = db
        self.directory = directory

    def GetCanvas(self, request: pb.GetCanvasRequest, context: grpc.ServicerContext) -> pb.GetCanvasResponse:
        view = canvases.read_canvas(self.db, self.directory, request.id, owners=_reader(request.allowed_owner_ids))
        return pb.GetCanvasResponse(canvas=_view(view))

    def ListCanvases(self, request: pb.ListCanvasesRequest, context: grpc.ServicerContext) -> pb.ListCanvasesResponse:
        filters = canvases.CanvasFilters(
            query=request.query.strip(),
            owner_ids=owner_filter(request.owner_ids),
            status=STATUSES.from_proto(request.status, "status"),
            include_archived=request.include_archived,
        )
        page = canvases.list_canvases(self.db, filters, request.page_size, request.page_token)
        return pb.ListCanvasesResponse(
            canvases=[canvas_to_proto(c) for c in page.items], next_page_token=page.next_page_token
        )

    def CreateCanvas(self, request: pb.CreateCanvasRequest, context: grpc.ServicerContext) -> pb.CreateCanvasResponse:
        notes = [note_from_proto(n, f"canvas.notes[{i}]") for i, n in enumerate(request.canvas.notes)]
        new = canvases.prepare_canvas(self.directory, canvas_from_proto(request.canvas), notes)
        return self._create(new, "CreateCanvas", request.request_id)

    def _create(self, new: NewCanvas, scope: str, request_id: str) -> pb.CreateCanvasResponse:
        """Writes a prepared canvas once per `request_id`, answering with it as created."""
        return run_once(
            self.db,
            scope,
            request_id,
            pb.CreateCanvasResponse,
            lambda uow: pb.CreateCanvasResponse(canvas=canvas_to_proto(*canvases.create_canvas(uow, new))),
        )

    def UpdateCanvas(self, request: pb.UpdateCanvasRequest, context: grpc.ServicerContext) -> pb.UpdateCanvasResponse:
        after = canvases.update_canvas(
            self.db,
            canvas_from_proto(request.canvas),
            list(request.update_mask.paths),
            expected_version=request.expected_version,
        )
        return pb.UpdateCanvasResponse(canvas=canvas_to_proto(after))

    def DeleteCanvas(self, request: pb.DeleteCanvasRequest, context: grpc.ServicerContext) -> pb.DeleteCanvasResponse:
        canvases.delete_canvas(self.db, request.id)
        return pb.DeleteCanvasResponse()

    def ArchiveCanvas(
        self, request: pb.ArchiveCanvasRequest, context: grpc.ServicerContext
    ) -> pb.ArchiveCanvasResponse:
        after = canvases.archive_canvas(self.db, request.id, expected_version=request.expected_version)
        return pb.ArchiveCanvasResponse(canvas=canvas_to_proto(after))

    def CopyCanvas(self, request: pb.CopyCanvasRequest, context: grpc.ServicerContext) -> pb.CopyCanvasResponse:
        new = canvases.prepare_copy(self.db, request.canvas_id, request.name)
        made = self._create(new, "CopyCanvas", request.request_id)
        return pb.CopyCanvasResponse(canvas=made.canvas)

    def AddNote(self, request: pb.AddNoteRequest, context: grpc.ServicerContext) -> pb.AddNoteResponse:
        note = canvases.prepare_note(self.directory, note_from_proto(request.note))

        def add(uow: UnitOfWork) -> pb.AddNoteResponse:
            made, version = canvases.add_note(uow, request.canvas_id, note)
            return pb.AddNoteResponse(note=note_to_proto(made), canvas_version=version)

        return run_once(self.db, "AddNote", request.request_id, pb.AddNoteResponse, add)

    def UpdateNote(self, request: pb.UpdateNoteRequest, context: grpc.ServicerContext) -> pb.UpdateNoteResponse:
        paths = list(request.update_mask.paths)
        draft = note_from_proto(request.note, require_block="block" in paths or "*" in paths)
        note, version = canvases.update_note(
            self.db, self.directory, draft, paths, expected_version=request.expected_version
        )
        return pb.UpdateNoteResponse(note=note_to_proto(note), canvas_version=version)

    def DeleteNote(self, request: pb.DeleteNoteRequest, context: grpc.ServicerContext) -> pb.DeleteNoteResponse:
        version = canvases.delete_note(self.db, request.note_id, expected_version=request.expected_version)
        return pb.DeleteNoteResponse(canvas_version=version)

    def ListRevisions(
        self, request: pb.ListRevisionsRequest, context: grpc.ServicerContext
    ) -> pb.ListRevisionsResponse:
        rows, token = canvases.list_revisions(self.db, request.canvas_id, request.page_size, request.page_token)
        return pb.ListRevisionsResponse(revisions=[revision_to_proto(r) for r in rows], next_page_token=token)

    def GetRevision(self, request: pb.GetRevisionRequest, context: grpc.ServicerContext) -> pb.GetRevisionResponse:
        if request.revision_number <= 0:
            raise InvalidArgument.field("revision_number", "must be positive")
        revision, view = canvases.revision_view(
            self.db,
            self.directory,
            request.canvas_id,
            request.revision_number,
            owners=_reader(request.allowed_owner_ids),
        )
        return pb.GetRevisionResponse(revision=revision_to_proto(revision), canvas=_view(view))

    def RestoreRevision(
        self, request: pb.RestoreRevisionRequest, context: grpc.ServicerContext
    ) -> pb.RestoreRevisionResponse:
        owners = _reader(request.allowed_owner_ids)
        canvases.restore_revision(
            self.db, request.canvas_id, request.revision_number, expected_version=request.expected_version
        )
        view = canvases.read_canvas(self.db, self.directory, request.canvas_id, owners=owners)
        return pb.RestoreRevisionResponse(canvas=_view(view))

    def ExportCanvasPdf(
        self, request: pb.ExportCanvasPdfRequest, context: grpc.ServicerContext
    ) -> pb.ExportCanvasPdfResponse:
        revision, view = canvases.revision_view(
            self.db,
            self.directory,
            request.canvas_id,
            request.revision_number,
            owners=_reader(request.allowed_owner_ids),
        )
        canvas = _view(view)
        subtitle = f"revisión / revision {revision.number} · {revision.created_at:%Y-%m-%d %H:%M} UTC"
        return pb.ExportCanvasPdfResponse(
            pdf=render_canvas_pdf(canvas, subtitle), filename=_filename(canvas.name, revision.number, "pdf")
        )

    def ExportCanvasJson(
        self, request: pb.ExportCanvasJsonRequest, context: grpc.ServicerContext
    ) -> pb.ExportCanvasJsonResponse:
        # The JSON export holds no labels or figures: nothing to narrow.
        revision, view = canvases.revision_view(self.db, None, request.canvas_id, request.revision_number, owners=None)
        return pb.ExportCanvasJsonResponse(
            json=canvases.export_json(view), filename=_filename(view.canvas.name, revision.number, "json")
        )

    def ImportCanvasJson(
        self, request: pb.ImportCanvasJsonRequest, context: grpc.ServicerContext
    ) -> pb.ImportCanvasJsonResponse:
        new = canvases.prepare_import(self.directory, request.json, request.name)
        made = self._create(new, "ImportCanvasJson", request.request_id)
        return pb.ImportCanvasJsonResponse(canvas=made.canvas, warnings=list(new.warnings))
