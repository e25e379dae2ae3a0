"""Fixtures of the quotes service's integration tests: the service over real gRPC on loopback with
a real database (SQLite and PostgreSQL) and the session's nats-server, wired with in-process fakes
of the deals and contacts services (a deal directory the test fills, and one that can be made
unreachable) and a clock the test can move; helpers to make products and quotes and to count rows.
Tests against the real deals and contacts services are in test_with_deals_grpc.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from crm.common.v1 import types_pb2
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_platform.errors import Unavailable
from crm_platform.ids import new_id
from crm_platform.service import ServiceRuntime
from crm_platform.tables import client_requests, outbox_events
from crm_quotes.adapters.contacts_directory import ClientCard, ContactCard
from crm_quotes.adapters.deals_directory import DealRef
from crm_quotes.adapters.tables import price_changes, products, quote_lines, quotes
from crm_quotes.bootstrap import spec
from crm_quotes.domain.quotes import Calendar
from crm_quotes.service_layer.quotes import Quoting
from crm_quotes.settings import QuotesSettings

OWNER = "0192d6e0-0000-7000-8000-0000000000a1"
OTHER_OWNER = "0192d6e0-0000-7000-8000-0000000000b2"


@dataclass
class Clock:
    """A clock the test moves by hand (the quotes service reads it for every change and read)."""

    # 9:00 in Bogotá (UTC-5).
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 14, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeDeals:
    """The deals service as the quotes service sees it; `down` makes every call UNAVAILABLE."""

    def __init__(self) -> None:
        self.deals: dict[str, DealRef] = {}
        self.down = False
        self.calls = 0

    def add(self, currency: str = "USD", contacts: int = 2, owner: str = OWNER) -> DealRef:
        ref = DealRef(
            id=new_id(),
            title="Licencias 2026",
            client_id=new_id(),
            contact_ids=tuple(new_id() for _ in range(contacts)),
            owner_id=owner,
            currency=currency,
        )
        self.deals[ref.id] = ref
        return ref

    def deal(self, deal_id: str) -> DealRef | None:
        self.calls += 1
        if self.down:
            raise Unavailable("the deals service could not answer (UNAVAILABLE)", reason="deals_unavailable")
        return self.deals.get(deal_id)


class FakeContacts:
    def __init__(self) -> None:
        self.clients: dict[str, ClientCard] = {}
        self.contacts: dict[str, ContactCard] = {}

    def client(self, client_id: str) -> ClientCard | None:
        return self.clients.get(client_id)

    def contact(self, contact_id: str) -> ContactCard | None:
        return self.contacts.get(contact_id)


@dataclass
class QuotesWorld:
    runtime: ServiceRuntime
    stub: quotes_pb2_grpc.QuotesServiceStub
    deals: FakeDeals
    contacts: FakeContacts
    clock: Clock
    database_url: str

    def product(self, sku: str = "", price: str = "100", rate: str = "0.19", currency: str = "USD", **kw: Any) -> Any:
        kw.setdefault("name", f"Producto {sku or 'x'}")
        kw.setdefault("kind", quotes_pb2.PRODUCT_KIND_PRODUCT)
        msg = quotes_pb2.Product(
            sku=sku or f"SKU-{new_id()[-8:]}",
            unit_price=types_pb2.Money(amount=price, currency_code=currency),
            tax_rate=rate,
            active=kw.pop("active", True),
            **kw,
        )
        return self.stub.CreateProduct(quotes_pb2.CreateProductRequest(product=msg), timeout=5).product

    def quote_request(self, deal: DealRef, lines: list[tuple[str, str]], **kw: Any) -> quotes_pb2.CreateQuoteRequest:
        """A create request for `deal` with lines of (product id, quantity)."""
        return quotes_pb2.CreateQuoteRequest(
            quote=quotes_pb2.Quote(
                deal_id=deal.id,
                lines=[quotes_pb2.QuoteLine(product_id=p, quantity=q) for p, q in lines],
                **kw,
            )
        )

    def quote(self, deal: DealRef | None = None, lines: list[tuple[str, str]] | None = None, **kw: Any) -> Any:
        deal = deal or self.deals.add()
        if lines is None:
            lines = [(self.product(currency=deal.currency or "USD").id, "2")]
        return self.stub.CreateQuote(self.quote_request(deal, lines, **kw), timeout=10).quote

    def quoting(self) -> Quoting:
        """The use cases' wiring as the service has it (for calling the sweep directly)."""
        return Quoting(self.deals, Calendar(QuotesSettings().zone), 30, clock=self.clock)

    def today(self) -> date:
        return self.clock.now.astimezone(QuotesSettings().zone).date()

    def counts(self) -> dict[str, int]:
        """Rows per table: products, price changes, quotes, lines, outbox events, remembered requests."""
        assert self.runtime.db is not None
        tables = {
            "products": products,
            "price_changes": price_changes,
            "quotes": quotes,
            "quote_lines": quote_lines,
            "outbox": outbox_events,
            "requests": client_requests,
        }
        with self.runtime.db.read() as s:
            return {name: int(s.scalar(select(func.count()).select_from(t)) or 0) for name, t in tables.items()}


def stub_for(rt: ServiceRuntime) -> quotes_pb2_grpc.QuotesServiceStub:
    return quotes_pb2_grpc.QuotesServiceStub(grpc.insecure_channel(f"127.0.0.1:{rt.grpc_port}"))


@pytest.fixture
def world(start_service: Callable[..., ServiceRuntime], database_url: str) -> QuotesWorld:
    deals, contacts, clock = FakeDeals(), FakeContacts(), Clock()
    settings = QuotesSettings(expiry_sweep_seconds=0, company_name="Soluciones Andinas S.A.S.")
    runtime = start_service(spec(deals, contacts, settings, clock), database_url)
    return QuotesWorld(runtime, stub_for(runtime), deals, contacts, clock, database_url)
