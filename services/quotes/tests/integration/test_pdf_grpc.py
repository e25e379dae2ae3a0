"""The quote's PDF over gRPC: it opens, and its text (extracted with pypdf) holds the quote's
number, the client's and contact's names with their accents, every line (code, description,
quantity, total), the tax breakdown, the total and the validity, in Spanish by default and in
English on request."""

from __future__ import annotations

import io
from datetime import timedelta

import grpc
import pytest
from babel.numbers import format_decimal
from pypdf import PdfReader

from crm.common.v1 import types_pb2
from crm.quotes.v1 import quotes_pb2
from crm_platform.grpc_client import decode_error
from crm_quotes.adapters.contacts_directory import ClientCard, ContactCard

from .conftest import QuotesWorld


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_pdf_holds_the_number_the_client_every_line_and_the_total(world: QuotesWorld) -> None:
    deal = world.deals.add(currency="USD")
    world.contacts.clients[deal.client_id] = ClientCard(
        id=deal.client_id, name="Compañía Ñandú Müller S.A.S.", tax_id="900123456-8", address="Calle 10 # 5-20, Bogotá"
    )
    world.contacts.contacts[deal.contact_ids[0]] = ContactCard(
        id=deal.contact_ids[0], name="José Peña Güell", job_title="Jefe de compras"
    )
    names = ["Cámara térmica", "Instalación y configuración", "Soporte técnico anual", "Cable UTP categoría 6"]
    prices = ["1500", "250.5", "99.99", "1.25"]
    made = [world.product(f"PDF-{i}", price=p, name=n) for i, (n, p) in enumerate(zip(names, prices, strict=True))]
    lines = [(p.id, q) for p, q in zip(made, ["2", "1", "12", "305"], strict=True)]
    quote = world.quote(deal, lines, terms="Pago a 30 días. Precios en dólares.",
                        valid_until=types_pb2.Date(year=2026, month=3, day=31))  # fmt: skip
    res = world.stub.RenderQuotePdf(quotes_pb2.RenderQuotePdfRequest(quote_id=quote.id), timeout=10)
    assert res.filename == f"{quote.number}.pdf" and res.pdf.startswith(b"%PDF-")
    text = _words(_text(res.pdf))
    assert f"Cotización {quote.number}" in text
    assert "Compañía Ñandú Müller S.A.S." in text and "José Peña Güell" in text and "Soluciones Andinas" in text
    for i, line in enumerate(quote.lines, start=1):
        total = format_decimal(line.total.amount, format="#,##0.00", locale="es")
        assert f"{i} {line.sku} {line.description}" in text, line.description
        assert total in text
    assert f"Total USD {format_decimal(quote.total.amount, format='#,##0.00', locale='es')}" in text
    assert "IVA 19 %" in text and "31 de marzo de 2026" in text and "Pago a 30 días." in text

    english = world.stub.RenderQuotePdf(quotes_pb2.RenderQuotePdfRequest(quote_id=quote.id, locale="en-US"), timeout=10)
    words = _words(_text(english.pdf))
    assert f"Quote {quote.number}" in words and "March 31, 2026" in words
    assert f"Total USD {format_decimal(quote.total.amount, format='#,##0.00', locale='en')}" in words


def test_a_long_quote_breaks_across_pages_with_every_line(world: QuotesWorld) -> None:
    deal = world.deals.add(currency="CLP")
    product = world.product("LONG-1", price="1990", currency="CLP", name="Servicio de mantención preventiva")
    quote = world.quote(deal, [(product.id, str(i + 1)) for i in range(60)])
    res = world.stub.RenderQuotePdf(quotes_pb2.RenderQuotePdfRequest(quote_id=quote.id), timeout=10)
    reader = PdfReader(io.BytesIO(res.pdf))
    assert len(reader.pages) >= 2
    text = _words(_text(res.pdf))
    assert text.count("LONG-1 Servicio de mantención preventiva") == 60
    assert f"Total CLP {format_decimal(quote.total.amount, format='#,##0', locale='es')}" in text


def test_an_unknown_quote_has_no_pdf(world: QuotesWorld) -> None:
    with pytest.raises(grpc.RpcError) as err:
        world.stub.RenderQuotePdf(
            quotes_pb2.RenderQuotePdfRequest(quote_id="0192d6e0-0000-7000-8000-000000000000"), timeout=5
        )
    assert decode_error(err.value).code == grpc.StatusCode.NOT_FOUND


def test_an_expired_quote_prints_as_expired(world: QuotesWorld) -> None:
    quote = world.quote(valid_until=types_pb2.Date(year=2026, month=3, day=3))
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    world.clock.advance(days=5)
    world.clock.now += timedelta(hours=1)
    text = _words(_text(world.stub.RenderQuotePdf(quotes_pb2.RenderQuotePdfRequest(quote_id=quote.id)).pdf))
    assert "Estado: Vencida" in text
