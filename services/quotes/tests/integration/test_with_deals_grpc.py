"""The quotes service with the real contacts and deals services (over gRPC on loopback, a
nats-server of the test's own): a quote takes its deal's client, contact, owner and currency; an
unknown deal is FAILED_PRECONDITION naming deal_id; an unreachable deals service is UNAVAILABLE
and nothing is written; the PDF prints the client's and contact's names from the contacts
service; accepting the quote makes the deals service set the deal's amount to the quote's total."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm.quotes.v1 import quotes_pb2
from crm_contacts.bootstrap import SPEC as CONTACTS
from crm_deals.bootstrap import SPEC as DEALS
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer, free_port
from crm_platform.service import ServiceRuntime
from crm_quotes.adapters.tables import quotes
from crm_quotes.bootstrap import spec

from .conftest import OWNER, stub_for
from .test_pdf_grpc import _text, _words


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


def test_a_quote_for_a_real_deal_through_to_the_deals_amount(
    start_service: Callable[..., ServiceRuntime],
    database_url: str,
    own_nats: NatsServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contacts_rt = start_service(CONTACTS, f"sqlite:///{tmp_path / 'contacts.db'}", own_nats.url)
    monkeypatch.setenv("CRM_CONTACTS_ADDR", f"127.0.0.1:{contacts_rt.grpc_port}")
    deals_rt = start_service(DEALS, f"sqlite:///{tmp_path / 'deals.db'}", own_nats.url)
    monkeypatch.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{deals_rt.grpc_port}")
    quotes_rt = start_service(spec(), database_url, own_nats.url)
    monkeypatch.setenv("CRM_QUOTES_ADDR", f"127.0.0.1:{quotes_rt.grpc_port}")
    people = contacts_pb2_grpc.ContactsServiceStub(grpc.insecure_channel(f"127.0.0.1:{contacts_rt.grpc_port}"))
    deals = deals_pb2_grpc.DealsServiceStub(grpc.insecure_channel(f"127.0.0.1:{deals_rt.grpc_port}"))
    stub = stub_for(quotes_rt)

    client = people.CreateClient(
        contacts_pb2.CreateClientRequest(client=contacts_pb2.Client(name="Industrias Ñandú Müller", owner_id=OWNER)),
        timeout=5,
    ).client
    contact = people.CreateContact(
        contacts_pb2.CreateContactRequest(
            contact=contacts_pb2.Contact(client_id=client.id, first_name="Lucía", last_name="Peña", owner_id=OWNER)
        ),
        timeout=5,
    ).contact
    deal = deals.CreateDeal(
        deals_pb2.CreateDealRequest(
            deal=deals_pb2.Deal(
                title="Cámaras 2026",
                client_id=client.id,
                contact_ids=[contact.id],
                owner_id=OWNER,
                amount=types_pb2.Money(amount="1000000", currency_code="COP"),
            )
        ),
        timeout=5,
    ).deal
    product = stub.CreateProduct(
        quotes_pb2.CreateProductRequest(
            product=quotes_pb2.Product(
                sku="CAM-9",
                name="Cámara térmica",
                kind=quotes_pb2.PRODUCT_KIND_PRODUCT,
                unit_price=types_pb2.Money(amount="1234567.5", currency_code="COP"),
                tax_rate="0.19",
                active=True,
            )
        ),
        timeout=5,
    ).product
    req = quotes_pb2.CreateQuoteRequest(
        quote=quotes_pb2.Quote(deal_id=deal.id, lines=[quotes_pb2.QuoteLine(product_id=product.id, quantity="2")])
    )
    quote = stub.CreateQuote(req, timeout=10).quote
    assert (quote.client_id, quote.contact_id, quote.owner_id, quote.currency_code) == (
        client.id,
        contact.id,
        OWNER,
        "COP",
    )
    assert quote.total.amount == "2938271"  # 2,469,135 + 19 % (469,135.65 → 469,136)

    pdf = stub.RenderQuotePdf(quotes_pb2.RenderQuotePdfRequest(quote_id=quote.id), timeout=10).pdf
    text = _words(_text(pdf))
    assert "Industrias Ñandú Müller" in text and "Lucía Peña" in text and quote.number in text

    unknown = quotes_pb2.CreateQuoteRequest(quote=quotes_pb2.Quote(deal_id="0192d6e0-0000-7000-8000-00000000dead"))
    unknown.quote.lines.add(product_id=product.id, quantity="1")
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateQuote(unknown, timeout=10)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.metadata["field"] == "deal_id"
    assert "deal_id" in info.message

    stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    stub.AcceptQuote(quotes_pb2.AcceptQuoteRequest(quote_id=quote.id), timeout=5)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = deals.GetDeal(deals_pb2.GetDealRequest(id=deal.id), timeout=5).deal
        if got.accepted_quote_id == quote.id:
            break
        time.sleep(0.1)
    assert got.accepted_quote_id == quote.id and got.amount.amount == "2938271" and got.amount.currency_code == "COP"

    # The deals service unreachable: UNAVAILABLE, and nothing written.
    assert quotes_rt.db is not None
    with quotes_rt.db.read() as s:
        before = s.scalar(select(func.count()).select_from(quotes))
    monkeypatch.setenv("CRM_DEALS_ADDR", f"127.0.0.1:{free_port()}")
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateQuote(req, timeout=15)
    assert decode_error(err.value).code == grpc.StatusCode.UNAVAILABLE
    with quotes_rt.db.read() as s:
        assert s.scalar(select(func.count()).select_from(quotes)) == before
