"""Links to real records, through the real contacts, deals and quotes services: a link to a
missing product is refused naming it; a value-proposition note linked to a product shows the
product's deal figures, and they change after a deal on that product is won; a retired product
reads as ARCHIVED; a segment shows its client count; a peer that is down leaves the figures unset
and the canvas still reads."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.canvas.v1 import canvas_pb2 as pb
from crm.quotes.v1 import quotes_pb2
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import free_port

from .conftest import CanvasWorld, Peers, won_deal

VP = pb.CANVAS_BLOCK_VALUE_PROPOSITIONS
MISSING_ID = "0192d6e0-0000-7000-8000-00000000dead"


def _product_link(product_id: str) -> pb.NoteLink:
    return pb.NoteLink(kind=pb.LINK_KIND_PRODUCT, target_id=product_id)


def test_a_linked_product_shows_its_deal_figures_and_they_follow_a_won_deal(
    linked: tuple[CanvasWorld, Peers], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, peers = linked
    camera = peers.product("Cámara térmica")
    client = peers.client("Frigoríficos del Sur", ["cadena_frio"])
    peers.client("Lácteos Norte", ["cadena_frio", "pymes"])
    c = world.create("Modelo frío")

    before = world.counts()
    with pytest.raises(grpc.RpcError) as err:
        world.add(c.id, VP, "Monitoreo remoto", links=[_product_link(camera.id), _product_link(MISSING_ID)])
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and MISSING_ID in info.message
    assert camera.id not in info.message and world.counts() == before

    note = world.add(c.id, VP, "Monitoreo remoto").note
    relinked = world.stub.UpdateNote(
        pb.UpdateNoteRequest(
            note=pb.Note(id=note.id, links=[_product_link(camera.id)]), update_mask=FieldMask(paths=["links"])
        ),
        timeout=10,
    ).note
    assert [k.target_id for k in relinked.links] == [camera.id] and relinked.version == 2
    with pytest.raises(grpc.RpcError) as err:
        world.stub.UpdateNote(
            pb.UpdateNoteRequest(
                note=pb.Note(id=note.id, links=[_product_link(MISSING_ID)]), update_mask=FieldMask(paths=["links"])
            ),
            timeout=10,
        )
    assert decode_error(err.value).code == grpc.StatusCode.FAILED_PRECONDITION and MISSING_ID in err.value.details()
    segment = pb.NoteLink(kind=pb.LINK_KIND_CLIENT_SEGMENT, target_id="cadena_frio")
    nobody = pb.NoteLink(kind=pb.LINK_KIND_CLIENT_SEGMENT, target_id="sin_clientes")
    world.add(c.id, pb.CANVAS_BLOCK_CUSTOMER_SEGMENTS, "Cadena de frío", links=[segment, nobody])

    def links() -> dict[str, pb.NoteLink]:
        return {k.target_id: k for n in world.get(c.id).notes for k in n.links}

    first = links()
    p = first[camera.id]
    assert (p.state, p.label, p.figures.deal_count, p.figures.won_deal_count) == (
        pb.LINK_STATE_ACTIVE,
        "Cámara térmica",
        0,
        0,
    )
    assert p.figures.HasField("fetch_time") and p.figures.unit_price.amount == "250000"
    assert (first["cadena_frio"].state, first["cadena_frio"].figures.client_count) == (pb.LINK_STATE_ACTIVE, 2)
    assert first["sin_clientes"].state == pb.LINK_STATE_MISSING

    won_deal(peers, client.id, camera.id, "3000000")
    after = links()[camera.id].figures
    assert (after.deal_count, after.won_deal_count) == (1, 1)
    assert [(m.amount, m.currency_code) for m in after.won_amounts] == [("3000000", "COP")]

    # The product retired: the link reads as archived, never as an error.
    peers.quotes.UpdateProduct(
        quotes_pb2.UpdateProductRequest(
            product=quotes_pb2.Product(id=camera.id, active=False), update_mask=FieldMask(paths=["active"])
        ),
        timeout=10,
    )
    assert links()[camera.id].state == pb.LINK_STATE_ARCHIVED

    # The deals service unreachable: the note reads, its figures unset.
    monkeypatch.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{free_port()}")
    down = links()[camera.id]
    assert down.label == "Cámara térmica" and not down.figures.HasField("fetch_time")
    assert [n.id for n in world.get(c.id).notes if n.block == VP] == [note.id]
