"""The PDF renderer without I/O: text the core fonts cannot print is transliterated (never an
error), and names with ñ, á, ü and € print as they are."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal as D

from pypdf import PdfReader

from crm_quotes.adapters.contacts_directory import ClientCard
from crm_quotes.adapters.pdf import Company, pdf_locale, printable, render_quote
from crm_quotes.domain.products import Product, ProductKind
from crm_quotes.domain.quotes import LineDraft, Quote, priced_lines, with_totals


def test_printable_keeps_western_text_and_transliterates_the_rest() -> None:
    assert printable("Ñandú Müller €") == "Ñandú Müller €"
    assert printable("Łódź") == "Lódz"
    assert printable("東京 ok") == "?? ok"


def test_the_locale_is_the_requested_language_else_the_default_else_spanish() -> None:
    assert [pdf_locale("en-US", "es"), pdf_locale("", "en"), pdf_locale("fr", "de"), pdf_locale("es_CO", "en")] == [
        "en",
        "en",
        "es",
        "es",
    ]


def test_names_print_with_their_accents_and_a_foreign_name_does_not_fail() -> None:
    product = Product(id="p", sku="EUR-1", name="Asesoría técnica € Łódź", kind=ProductKind.SERVICE,
                      unit_price=D("10"), currency="EUR", tax_rate=D("0.21"))  # fmt: skip
    lines = priced_lines([LineDraft("p", D(1))], {"p": product}, "EUR", D(0), lambda: "l1")
    quote = with_totals(Quote(id="q", deal_id="d", owner_id="o", currency="EUR", number="COT-2026-0009",
                              root_number="COT-2026-0009", lines=lines, valid_until=date(2026, 5, 1)))  # fmt: skip
    client = ClientCard(id="c", name="Güemes & Añez Ltda.")
    pdf = render_quote(quote, client, None, Company(name="Empresa Ñ"), "es", date(2026, 4, 1))
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Güemes & Añez Ltda." in text and "Asesoría técnica € Lódz" in text and "Empresa Ñ" in text
    assert "Total EUR 12,10" in text
