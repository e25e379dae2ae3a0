"""Segment figures: the reporting service's BatchGetSegmentFigures over its read models (clients
carrying a tag, their deals won in the last 12 months, per currency; deleted and archived rows and
older deals left out), and a customer-segment note of a canvas showing them beside the contacts
service's client count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from crm.canvas.v1 import canvas_pb2 as pb
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_platform.ids import new_id
from crm_platform.service import ServiceRuntime
from crm_reporting.adapters import tables
from crm_reporting.bootstrap import build_spec

from .conftest import OWNER, CanvasWorld, Peers


def _seed(runtime: ServiceRuntime, tag: str, now: datetime) -> None:
    assert runtime.db is not None
    live, gone, other = new_id(), new_id(), new_id()

    def client(cid: str, tags: str, **kw: Any) -> dict[str, Any]:
        # Every row names every column: an executemany takes its columns from the first row.
        return {
            "id": cid,
            "name": "c",
            "segment_tags": tags,
            "owner_id": OWNER,
            "version": 1,
            "event_time": now,
            "deleted": False,
            "archived": False,
            **kw,
        }

    def deal(cid: str, currency: str, minor: int, won_at: datetime, **kw: Any) -> dict[str, Any]:
        return {
            "id": new_id(),
            "client_id": cid,
            "status": "won",
            "currency_code": currency,
            "amount_minor": minor,
            "won_at": won_at,
            "closed_at": won_at,
            "version": 1,
            "event_time": now,
            "deleted": False,
            **kw,
        }

    with runtime.db.engine.begin() as conn:
        conn.execute(
            sa.insert(tables.rm_clients),
            [
                client(live, f" vip {tag} "),
                client(gone, f" {tag} ", deleted=True),
                client(other, " otro "),
                client(new_id(), f" {tag} ", archived=True),
            ],
        )
        conn.execute(
            sa.insert(tables.rm_deals),
            [
                deal(live, "COP", 150_000, now - timedelta(days=30)),
                deal(live, "COP", 50_000, now - timedelta(days=200)),
                deal(live, "USD", 1_000_00, now - timedelta(days=10)),
                deal(live, "COP", 999, now - timedelta(days=400)),  # older than 12 months
                deal(live, "COP", 777, now - timedelta(days=5), deleted=True),
                deal(gone, "COP", 555, now - timedelta(days=5)),  # a deleted client's
                deal(other, "COP", 333, now - timedelta(days=5)),  # another segment's
            ],
        )


def test_segment_figures_from_the_reporting_read_models_reach_the_canvas(
    linked: tuple[CanvasWorld, Peers],
    start_service: Callable[..., ServiceRuntime],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world, peers = linked
    reporting = start_service(build_spec(), f"sqlite:///{tmp_path / 'reporting.db'}")
    monkeypatch.setenv("CRM_REPORTING_ADDR", f"127.0.0.1:{reporting.grpc_port}")
    tag = f"seg{new_id()[-8:]}"
    _seed(reporting, tag, datetime.now(UTC))
    stub = reporting_pb2_grpc.ReportingServiceStub(grpc.insecure_channel(f"127.0.0.1:{reporting.grpc_port}"))

    res = stub.BatchGetSegmentFigures(
        reporting_pb2.BatchGetSegmentFiguresRequest(segment_tags=[tag, "nadie"]), timeout=10
    )
    figures = {f.segment_tag: f for f in res.figures}
    assert (figures[tag].client_count, figures[tag].won_deal_count) == (1, 3)
    assert [(m.currency_code, m.amount) for m in figures[tag].won_amounts] == [("COP", "200000"), ("USD", "1000.00")]
    assert (figures["nadie"].client_count, figures["nadie"].won_deal_count, len(figures["nadie"].won_amounts)) == (
        0,
        0,
        0,
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.BatchGetSegmentFigures(
            reporting_pb2.BatchGetSegmentFiguresRequest(segment_tags=["dos palabras"]), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    peers.client("Cliente del segmento", [tag])
    c = world.create("Segmentos")
    link = pb.NoteLink(kind=pb.LINK_KIND_CLIENT_SEGMENT, target_id=tag)
    world.add(c.id, pb.CANVAS_BLOCK_CUSTOMER_SEGMENTS, "Clientes VIP", links=[link])
    shown = world.get(c.id).notes[0].links[0]
    assert (shown.state, shown.label, shown.figures.client_count, shown.figures.won_deal_count) == (
        pb.LINK_STATE_ACTIVE,
        tag,
        1,
        3,
    )
    assert [(m.currency_code, m.amount) for m in shown.figures.won_amounts] == [
        ("COP", "200000"),
        ("USD", "1000.00"),
    ]
