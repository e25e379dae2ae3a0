"""The canvas service over real gRPC (SQLite and PostgreSQL): canvases, notes with per-note
versions, revisions and restore, JSON export/import, the PDF, and each error with proof that it
changed nothing."""

from __future__ import annotations

import io
import json

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from pypdf import PdfReader

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import events_pb2
from crm_canvas.domain.canvas import BLOCK_TITLES
from crm_platform.grpc_client import decode_error
from crm_platform.testing import wait_for_event

from .conftest import OTHER, OWNER, CanvasWorld, actor

VP = pb.CANVAS_BLOCK_VALUE_PROPOSITIONS
KP = pb.CANVAS_BLOCK_KEY_PARTNERS
MISSING_ID = "0192d6e0-0000-7000-8000-00000000dead"


def _error(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value


def _content(notes: object) -> list[tuple[int, str, str, int, int, int, tuple[tuple[int, str], ...]]]:
    return sorted(
        (n.block, n.text, n.color, n.order, n.x, n.y, tuple((k.kind, k.target_id) for k in n.links))  # type: ignore[attr-defined]
        for n in notes  # type: ignore[attr-defined]
    )


def test_canvas_lifecycle_create_list_update_archive_copy_delete(world: CanvasWorld) -> None:
    c = world.create("Modelo café", [pb.Note(block=KP, text="Tostadores locales")], description="tienda")
    assert (c.status, c.owner_id, c.version, len(c.notes)) == (pb.CANVAS_STATUS_DRAFT, OWNER, 1, 1)
    assert c.notes[0].author_id == OWNER and c.notes[0].version == 1

    listed = world.stub.ListCanvases(pb.ListCanvasesRequest(query="CAFÉ"), timeout=5).canvases
    assert [x.id for x in listed] == [c.id] and not listed[0].notes
    assert not world.stub.ListCanvases(pb.ListCanvasesRequest(owner_ids=[OTHER]), timeout=5).canvases

    req = pb.UpdateCanvasRequest(
        canvas=pb.Canvas(id=c.id, name="Modelo café 2027", status=pb.CANVAS_STATUS_ACTIVE),
        update_mask=FieldMask(paths=["name", "status"]),
        expected_version=1,
    )
    updated = world.stub.UpdateCanvas(req, timeout=5, metadata=actor(OWNER)).canvas
    assert (updated.name, updated.status, updated.version) == ("Modelo café 2027", pb.CANVAS_STATUS_ACTIVE, 2)
    stale = _error(lambda: world.stub.UpdateCanvas(req, timeout=5))
    assert decode_error(stale).code == grpc.StatusCode.ABORTED
    assert world.get(c.id).name == "Modelo café 2027"

    copy = world.stub.CopyCanvas(pb.CopyCanvasRequest(canvas_id=c.id), timeout=5, metadata=actor(OTHER)).canvas
    assert copy.name == "Modelo café 2027 (copy)" and copy.owner_id == OTHER and copy.status == pb.CANVAS_STATUS_DRAFT
    assert [n.text for n in copy.notes] == ["Tostadores locales"] and copy.notes[0].id != c.notes[0].id

    archived = world.stub.ArchiveCanvas(pb.ArchiveCanvasRequest(id=c.id), timeout=5).canvas
    assert archived.status == pb.CANVAS_STATUS_ARCHIVED
    before = world.counts()
    err = _error(lambda: world.add(c.id, KP, "otra"))
    assert decode_error(err).code == grpc.StatusCode.FAILED_PRECONDITION and "archived" in err.details()
    assert world.counts() == before
    ids = [x.id for x in world.stub.ListCanvases(pb.ListCanvasesRequest(), timeout=5).canvases]
    assert ids == [copy.id]
    assert c.id in [x.id for x in world.stub.ListCanvases(pb.ListCanvasesRequest(include_archived=True)).canvases]
    wait_for_event(world.nats_url, events_pb2.CanvasArchived, lambda e: e.canvas.id == c.id)

    world.stub.DeleteCanvas(pb.DeleteCanvasRequest(id=copy.id), timeout=5)
    assert decode_error(_error(lambda: world.get(copy.id))).code == grpc.StatusCode.NOT_FOUND


def test_bad_input_is_named_and_changes_nothing(world: CanvasWorld) -> None:
    before = world.counts()
    err = _error(lambda: world.create("X", [pb.Note(block=42, text="a")]))  # type: ignore[arg-type]
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "canvas.notes[0].block" in err.details()
    err = _error(lambda: world.create(" "))
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "canvas.name" in err.details()
    c_err = _error(lambda: world.add(MISSING_ID, KP, "a"))
    assert decode_error(c_err).code == grpc.StatusCode.NOT_FOUND
    c = world.create()
    after_create = world.counts()
    err = _error(lambda: world.add(c.id, KP, "socio", color="rojo"))
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "note.color" in err.details()
    link = pb.NoteLink(kind=pb.LINK_KIND_CAMPAIGN, target_id=MISSING_ID)
    err = _error(lambda: world.add(c.id, KP, "socio", links=[link]))
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "note.links[0].kind" in err.details()
    assert world.counts() == after_create and after_create["canvases"] == before["canvases"] + 1


def test_two_people_editing_different_notes_keep_both_and_a_stale_note_edit_is_aborted(world: CanvasWorld) -> None:
    c = world.create()
    a = world.add(c.id, KP, "Socio A").note
    b = world.add(c.id, KP, "Socio B", who=OTHER).note
    # Both read version 1 of their own note; both edits land, whatever the canvas version.
    mask = FieldMask(paths=["text"])
    ra = world.stub.UpdateNote(
        pb.UpdateNoteRequest(note=pb.Note(id=a.id, text="Socio A+"), update_mask=mask, expected_version=1), timeout=5
    )
    rb = world.stub.UpdateNote(
        pb.UpdateNoteRequest(note=pb.Note(id=b.id, text="Socio B+"), update_mask=mask, expected_version=1),
        timeout=5,
        metadata=actor(OTHER),
    )
    assert (ra.note.version, rb.note.version, rb.canvas_version) == (2, 2, 5)
    changed = wait_for_event(world.nats_url, events_pb2.NoteChanged, lambda e: e.note.id == b.id)
    assert list(changed.changed_fields) == ["text"] and changed.canvas_version == 5
    added = wait_for_event(world.nats_url, events_pb2.NoteAdded, lambda e: e.note.id == a.id)
    assert added.note.text == "Socio A" and added.canvas_version == 2
    assert sorted(n.text for n in world.get(c.id).notes) == ["Socio A+", "Socio B+"]

    before = world.counts()
    stale = pb.UpdateNoteRequest(note=pb.Note(id=a.id, text="pisado"), update_mask=mask, expected_version=1)
    info = decode_error(_error(lambda: world.stub.UpdateNote(stale, timeout=5)))
    assert info.code == grpc.StatusCode.ABORTED and info.metadata["current_version"] == "2"
    assert info.metadata["note_id"] == a.id
    assert world.counts() == before and {n.text for n in world.get(c.id).notes} == {"Socio A+", "Socio B+"}

    moved = world.stub.UpdateNote(
        pb.UpdateNoteRequest(
            note=pb.Note(id=a.id, block=VP, x=40, y=12), update_mask=FieldMask(paths=["block", "x", "y"])
        )
    ).note
    assert (moved.block, moved.x, moved.y, moved.text) == (VP, 40, 12, "Socio A+")
    bad = pb.UpdateNoteRequest(note=pb.Note(id=a.id, block=99), update_mask=FieldMask(paths=["block"]))  # type: ignore[arg-type]
    err = _error(lambda: world.stub.UpdateNote(bad, timeout=5))
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "note.block" in err.details()

    err = _error(lambda: world.stub.DeleteNote(pb.DeleteNoteRequest(note_id=b.id, expected_version=1), timeout=5))
    assert decode_error(err).code == grpc.StatusCode.ABORTED
    world.stub.DeleteNote(pb.DeleteNoteRequest(note_id=b.id, expected_version=2), timeout=5)
    assert [n.id for n in world.get(c.id).notes] == [a.id]
    event = wait_for_event(world.nats_url, events_pb2.NoteRemoved, lambda e: e.note.id == b.id)
    assert event.note.text == "Socio B+" and event.canvas_version == world.get(c.id).version


def test_every_change_is_a_revision_and_restoring_one_gives_back_exactly_its_notes(world: CanvasWorld) -> None:
    c = world.create(notes=[pb.Note(block=KP, text="Proveedor X", color="#AABBCC", order=0, x=5, y=6)])
    world.add(c.id, VP, "Entrega en 24 h", order=1)
    kept = world.get(c.id)
    assert kept.version == 2
    first = kept.notes
    world.stub.UpdateNote(
        pb.UpdateNoteRequest(note=pb.Note(id=first[0].id, text="Proveedor Y"), update_mask=FieldMask(paths=["text"]))
    )
    world.stub.DeleteNote(pb.DeleteNoteRequest(note_id=next(n for n in first if n.block == VP).id))
    world.add(c.id, pb.CANVAS_BLOCK_CHANNELS, "Tienda web")
    assert world.get(c.id).version == 5

    revisions = world.stub.ListRevisions(pb.ListRevisionsRequest(canvas_id=c.id, page_size=3), timeout=5)
    assert [r.revision_number for r in revisions.revisions] == [5, 4, 3] and revisions.next_page_token
    rest = world.stub.ListRevisions(pb.ListRevisionsRequest(canvas_id=c.id, page_token=revisions.next_page_token))
    assert [r.revision_number for r in rest.revisions] == [2, 1] and rest.revisions[1].summary == "canvas created"
    assert rest.revisions[0].author_id == OWNER and "Value propositions" in rest.revisions[0].summary

    old = world.stub.GetRevision(pb.GetRevisionRequest(canvas_id=c.id, revision_number=2), timeout=5)
    assert _content(old.canvas.notes) == _content(first)

    restored = world.stub.RestoreRevision(
        pb.RestoreRevisionRequest(canvas_id=c.id, revision_number=2, expected_version=5), timeout=5
    ).canvas
    assert restored.version == 6 and _content(restored.notes) == _content(first)
    assert sorted(n.id for n in restored.notes) == sorted(n.id for n in first)
    latest = world.stub.ListRevisions(pb.ListRevisionsRequest(canvas_id=c.id, page_size=1)).revisions[0]
    assert (latest.revision_number, latest.summary) == (6, "restored revision 2")
    event = wait_for_event(
        world.nats_url, events_pb2.CanvasUpdated, lambda e: e.canvas.id == c.id and e.canvas.version == 6
    )
    assert "notes" in event.changed_fields

    info = decode_error(
        _error(
            lambda: world.stub.RestoreRevision(pb.RestoreRevisionRequest(canvas_id=c.id, revision_number=99), timeout=5)
        )
    )
    assert info.code == grpc.StatusCode.NOT_FOUND


def test_json_export_imports_into_a_new_canvas_and_the_pdf_holds_every_block_and_note(world: CanvasWorld) -> None:
    notes = [pb.Note(block=b, text=f"Nota número {b} — año ñandú") for b in range(1, 10)]
    notes.append(pb.Note(block=VP, text="Asesoría técnica gratuita", order=2))
    c = world.create("Lienzo Andino", notes)
    exported = world.stub.ExportCanvasJson(pb.ExportCanvasJsonRequest(canvas_id=c.id), timeout=5)
    assert exported.filename.endswith(".json") and json.loads(exported.json)["name"] == "Lienzo Andino"
    imported = world.stub.ImportCanvasJson(
        pb.ImportCanvasJsonRequest(json=exported.json, name="Lienzo importado"), timeout=5, metadata=actor(OTHER)
    )
    assert imported.canvas.name == "Lienzo importado" and imported.canvas.owner_id == OTHER
    assert _content(imported.canvas.notes) == _content(c.notes) and not imported.warnings
    doc = json.loads(exported.json)
    doc["notes"][0]["block"] = "socios_secretos"
    err = _error(lambda: world.stub.ImportCanvasJson(pb.ImportCanvasJsonRequest(json=json.dumps(doc)), timeout=5))
    assert decode_error(err).code == grpc.StatusCode.INVALID_ARGUMENT and "socios_secretos" in err.details()

    res = world.stub.ExportCanvasPdf(pb.ExportCanvasPdfRequest(canvas_id=c.id), timeout=20)
    assert res.filename.endswith(".pdf")
    reader = PdfReader(io.BytesIO(res.pdf))
    assert len(reader.pages) == 1 and reader.pages[0].mediabox.width > reader.pages[0].mediabox.height
    text = " ".join(reader.pages[0].extract_text().split())
    for es, en in BLOCK_TITLES.values():
        assert es in text and en in text
    for n in notes:
        assert n.text in text
