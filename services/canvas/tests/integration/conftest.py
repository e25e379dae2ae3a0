"""Fixtures of the canvas service's integration tests: the service over real gRPC on loopback with
a real database (SQLite and PostgreSQL) and the session's nats-server. `canvas` alone (its links
then name no record: the peers are not started); `linked` adds the real contacts, deals and quotes
services so that links are validated and their figures read through them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from crm.canvas.v1 import canvas_pb2 as pb
from crm.canvas.v1 import canvas_pb2_grpc
from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_canvas.adapters.tables import canvas_notes, canvas_revisions, canvases
from crm_canvas.bootstrap import spec
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.bootstrap import SPEC as DEALS
from crm_platform.ids import new_id
from crm_platform.nats_server import free_port
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_quotes.bootstrap import SPEC as QUOTES

OWNER = "0192d6e0-0000-7000-8000-0000000000a1"
OTHER = "0192d6e0-0000-7000-8000-0000000000b2"


def actor(user: str) -> list[tuple[str, str]]:
    return [("x-crm-actor", user)]


@dataclass
class CanvasWorld:
    runtime: ServiceRuntime
    stub: canvas_pb2_grpc.CanvasServiceStub
    nats_url: str

    def create(self, name: str = "Modelo 2027", notes: list[pb.Note] | None = None, **kw: Any) -> pb.Canvas:
        req = pb.CreateCanvasRequest(canvas=pb.Canvas(name=name, notes=notes or [], **kw))
        return self.stub.CreateCanvas(req, timeout=10, metadata=actor(OWNER)).canvas

    def add(self, canvas_id: str, block: int, text: str, who: str = OWNER, **kw: Any) -> pb.AddNoteResponse:
        req = pb.AddNoteRequest(canvas_id=canvas_id, note=pb.Note(block=block, text=text, **kw))
        return self.stub.AddNote(req, timeout=10, metadata=actor(who))

    def get(self, canvas_id: str) -> pb.Canvas:
        return self.stub.GetCanvas(pb.GetCanvasRequest(id=canvas_id), timeout=10).canvas

    def counts(self) -> dict[str, int]:
        assert self.runtime.db is not None
        tables = {"canvases": canvases, "notes": canvas_notes, "revisions": canvas_revisions, "outbox": outbox_events}
        with self.runtime.db.read() as s:
            return {k: int(s.scalar(select(func.count()).select_from(t)) or 0) for k, t in tables.items()}


@dataclass
class Peers:
    people: contacts_pb2_grpc.ContactsServiceStub
    deals: deals_pb2_grpc.DealsServiceStub
    quotes: quotes_pb2_grpc.QuotesServiceStub

    def product(self, name: str, price: str = "250000", active: bool = True) -> quotes_pb2.Product:
        msg = quotes_pb2.Product(
            sku=f"SKU-{new_id()[-8:]}",
            name=name,
            kind=quotes_pb2.PRODUCT_KIND_PRODUCT,
            unit_price=types_pb2.Money(amount=price, currency_code="COP"),
            tax_rate="0.19",
            active=active,
        )
        return self.quotes.CreateProduct(quotes_pb2.CreateProductRequest(product=msg), timeout=10).product

    def client(self, name: str, tags: list[str]) -> contacts_pb2.Client:
        msg = contacts_pb2.Client(name=name, owner_id=OWNER, segment_tags=tags)
        return self.people.CreateClient(contacts_pb2.CreateClientRequest(client=msg), timeout=10).client


def stub_for(rt: ServiceRuntime) -> canvas_pb2_grpc.CanvasServiceStub:
    return canvas_pb2_grpc.CanvasServiceStub(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))


@pytest.fixture
def world(start_service: Callable[..., ServiceRuntime], database_url: str, nats_server: Any) -> CanvasWorld:
    runtime = start_service(spec(), database_url)
    return CanvasWorld(runtime, stub_for(runtime), nats_server.url)


@pytest.fixture
def linked(
    start_service: Callable[..., ServiceRuntime],
    database_url: str,
    nats_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[CanvasWorld, Peers]:
    contacts_rt = start_service(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}")
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts_rt.grpc_port}")
    quotes_rt = start_service(QUOTES, f"sqlite:///{tmp_path / 'quotes.db'}")
    monkeypatch.setenv("CRM_QUOTES_ADDR", f"127.0.0.1:{quotes_rt.grpc_port}")
    deals_rt = start_service(DEALS, f"sqlite:///{tmp_path / 'deals.db'}")
    monkeypatch.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{deals_rt.grpc_port}")
    # No reporting service unless a test starts one (segment won amounts then stay unset).
    monkeypatch.setenv("CRM_REPORTING_ADDR", f"127.0.0.1:{free_port()}")
    runtime = start_service(spec(), database_url)

    def channel(rt: ServiceRuntime) -> grpc.Channel:
        return grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}")

    peers = Peers(
        contacts_pb2_grpc.ContactsServiceStub(channel(contacts_rt)),
        deals_pb2_grpc.DealsServiceStub(channel(deals_rt)),
        quotes_pb2_grpc.QuotesServiceStub(channel(quotes_rt)),
    )
    return CanvasWorld(runtime, stub_for(runtime), nats_server.url), peers


def won_deal(peers: Peers, client_id: str, product_id: str, amount: str) -> deals_pb2.Deal:
    deal = peers.deals.CreateDeal(
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="Licencias 2027",
                client_id=client_id,
                owner_id=OWNER,
                amount=types_pb2.Money(amount=amount, currency_code="COP"),
                line_items=[deals_pb2.DealLineItem(product_id=product_id, quantity="1")],
            )
        ),
        timeout=10,
    ).deal
    return peers.deals.WinDeal(deals_pb2.WinDealRequest(deal_id=deal.id), timeout=10).deal
