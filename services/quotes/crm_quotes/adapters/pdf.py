"""The quote as a printable proposal (PDF, A4) drawn with fpdf2: the company's header, the client
and contact, the numbered lines, the tax breakdown by rate, the totals, the validity and the terms;
in Spanish by default (English on request). Text is set in the PDF core fonts (Helvetica) with
Windows-1252 encoding, which covers Spanish, Portuguese and the other Western European
languages (ñ, á, ü, €) without embedding a font file; a character outside it is printed as its
unaccented letter, or '?' when it has none. Lines are wrapped here, word by word, which is what
keeps a 20-line quote well under 50 ms to draw."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date
from babel.numbers import format_decimal
from fpdf import FPDF

from crm_platform.money import minor_unit_exponent
from crm_quotes.adapters.contacts_directory import ClientCard, ContactCard
from crm_quotes.domain.quotes import Quote

ENCODING = "windows-1252"
FONT = "Helvetica"
LOCALES = ("es", "en")
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
BAND = (241, 243, 245)


@dataclass(frozen=True)
class Company:
    name: str
    tax_id: str = ""
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""


_LABELS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Cotización",
        "date": "Fecha",
        "valid_until": "Válida hasta",
        "status": "Estado",
        "client": "Cliente",
        "contact": "Contacto",
        "tax_id": "NIT / Id. fiscal",
        "col_no": "#",
        "col_sku": "Código",
        "col_desc": "Descripción",
        "col_qty": "Cant.",
        "col_price": "Precio unit.",
        "col_disc": "Desc.",
        "col_tax": "IVA",
        "col_total": "Total",
        "amounts_in": "Valores en",
        "subtotal": "Subtotal",
        "discount": "Descuentos",
        "tax_line": "IVA {rate} sobre {base}",
        "exempt": "Exento sobre {base}",
        "total": "Total",
        "validity": "Esta cotización es válida hasta el {date}.",
        "terms": "Condiciones",
        "page": "Página {n} de {total}",
        "revision": "Revisión {n} de {root}",
        "draft": "Borrador",
        "sent": "Enviada",
        "accepted": "Aceptada",
        "rejected": "Rechazada",
        "expired": "Vencida",
        "superseded": "Reemplazada",
    },
    "en": {
        "title": "Quote",
        "date": "Date",
        "valid_until": "Valid until",
        "status": "Status",
        "client": "Client",
        "contact": "Contact",
        "tax_id": "Tax id",
        "col_no": "#",
        "col_sku": "Code",
        "col_desc": "Description",
        "col_qty": "Qty",
        "col_price": "Unit price",
        "col_disc": "Disc.",
        "col_tax": "Tax",
        "col_total": "Total",
        "amounts_in": "Amounts in",
        "subtotal": "Subtotal",
        "discount": "Discounts",
        "tax_line": "Tax {rate} on {base}",
        "exempt": "Exempt on {base}",
        "total": "Total",
        "validity": "This quote is valid until {date}.",
        "terms": "Terms",
        "page": "Page {n} of {total}",
        "revision": "Revision {n} of {root}",
        "draft": "Draft",
        "sent": "Sent",
        "accepted": "Accepted",
        "rejected": "Rejected",
        "expired": "Expired",
        "superseded": "Superseded",
    },
}


def pdf_locale(requested: str, default: str) -> str:
    """The document's language: the request's (a BCP 47 tag: "es-CO" → es), else the default,
    else Spanish."""
    for tag in (requested, default):
        lang = tag.replace("_", "-").split("-", 1)[0].lower()
        if lang in LOCALES:
            return lang
    return "es"


# Letters that Unicode does not decompose into a base letter and a mark.
_STROKED = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i"})


@lru_cache(maxsize=4096)
def printable(text: str) -> str:
    """Text the core fonts can print: as is when Windows-1252 has every character; otherwise each
    missing character as its unaccented letter, or '?'."""
    try:
        text.encode(ENCODING)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text.translate(_STROKED):
        try:
            ch.encode(ENCODING)
            out.append(ch)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            try:
                base.encode(ENCODING)
                out.append(base or "?")
            except UnicodeEncodeError:
                out.append("?")
    return "".join(out)


class _Numbers:
    """Amounts and quantities as the locale writes them ("1.234.567,89" in Spanish)."""

    def __init__(self, locale: str, currency: str):
        self.locale = locale
        digits = minor_unit_exponent(currency)
        self._money = "#,##0" + ("." + "0" * digits if digits else "")
        self._digits = digits

    def money(self, value: Decimal) -> str:
        return str(format_decimal(value, format=self._money, locale=self.locale))

    def price(self, value: Decimal) -> str:
        """A unit price: the currency's digits, more when the price has them (0.005)."""
        places = max(self._digits, -int(value.normalize().as_tuple().exponent))
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return str(format_decimal(value, format=pattern, locale=self.locale))

    def plain(self, value: Decimal) -> str:
        places = max(-int(value.normalize().as_tuple().exponent), 0)
        pattern = "#,##0" + ("." + "#" * places if places else "")
        return str(format_decimal(value, format=pattern, locale=self.locale))

    def percent(self, fraction: Decimal) -> str:
        return self.plain(fraction * 100) + " %"


class _Document(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.footer_text.replace("{n}", str(self.page_no())), align="C")


# Column widths (mm) of the lines table; A4 is 210 mm wide, 15 mm margins leave 180.
_COLUMNS = (("col_no", 8, "R"), ("col_sku", 22, "L"), ("col_desc", 58, "L"), ("col_qty", 16, "R"),
            ("col_price", 25, "R"), ("col_disc", 13, "R"), ("col_tax", 12, "R"), ("col_total", 26, "R"))  # fmt: skip
_LINE_HEIGHT = 4.6


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """`text` cut into lines no wider than `width` at the current font (long words cut too)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if pdf.get_string_width(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while pdf.get_string_width(word) > width:
                cut = len(word)
                while cut > 1 and pdf.get_string_width(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def render_quote(
    quote: Quote,
    client: ClientCard | None,
    contact: ContactCard | None,
    company: Company,
    locale: str,
    issued_on: date,
) -> bytes:
    """The quote's PDF; `issued_on` is the date it shows (sent, else created, in the company's zone)."""
    assert quote.totals is not None
    t = _LABELS[locale]
    n = _Numbers(locale, quote.currency)
    pdf = _Document(format="A4", unit="mm")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(False)
    pdf.set_title(printable(f"{t['title']} {quote.number}"))
    pdf.set_author(printable(company.name))
    pdf.set_creator("CRM")
    pdf.footer_text = printable(t["page"].replace("{total}", "{nb}"))
    pdf.alias_nb_pages("{nb}")
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    # Header: the company on the left, the quote's number and dates on the right.
    top = pdf.get_y()
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 15)
    pdf.cell(110, 7, printable(company.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*MUTED)
    for text in (
        f"{t['tax_id']}: {company.tax_id}" if company.tax_id else "",
        company.address,
        " · ".join(p for p in (company.phone, company.email, company.website) if p),
    ):
        if text:
            pdf.cell(110, 4.2, printable(text), new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + 100, top)
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(80, 7, printable(f"{t['title']} {quote.number}"), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    details = [
        f"{t['date']}: {format_date(issued_on, 'long', locale=locale)}",
        f"{t['valid_until']}: {format_date(quote.valid_until, 'long', locale=locale)}" if quote.valid_until else "",
        f"{t['status']}: {t[quote.status.value]}",
        t["revision"].format(n=quote.revision, root=quote.root_number) if quote.revision else "",
    ]
    for text in details:
        if text:
            pdf.cell(80, 4.6, printable(text), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), left_bottom) + 3)
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(3)

    # Who the offer is for.
    y = pdf.get_y()
    for i, (label, rows) in enumerate(
        (
            (
                t["client"],
                [
                    client.name if client else quote.client_id,
                    client.legal_name if client and client.legal_name != client.name else "",
                    f"{t['tax_id']}: {client.tax_id}" if client and client.tax_id else "",
                    client.address if client else "",
                    " · ".join(p for p in (client.email, client.phone) if p) if client else "",
                ],
            ),
            (
                t["contact"],
                [
                    contact.name if contact else "",
                    contact.job_title if contact else "",
                    contact.email if contact else "",
                    contact.phone if contact else "",
                ],
            ),
        )
    ):
        x = pdf.l_margin + i * (width / 2 + 2)
        pdf.set_xy(x, y)
        pdf.set_font(FONT, "B", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(width / 2 - 2, 4.5, printable(label.upper()), new_x="LEFT", new_y="NEXT")
        pdf.set_text_color(*INK)
        for j, text in enumerate(r for r in rows if r):
            pdf.set_font(FONT, "B" if j == 0 else "", 10 if j == 0 else 8.5)
            for part in _wrap(pdf, printable(text), width / 2 - 2):
                pdf.cell(width / 2 - 2, 4.6, part, new_x="LEFT", new_y="NEXT")
        if i == 0:
            client_bottom = pdf.get_y()
    pdf.set_y(max(pdf.get_y(), client_bottom) + 4)

    # The lines.
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(width, 4, printable(f"{t['amounts_in']} {quote.currency}"), align="R", new_x="LMARGIN", new_y="NEXT")

    def table_header() -> None:
        pdf.set_font(FONT, "B", 8)
        pdf.set_fill_color(*BAND)
        pdf.set_text_color(*INK)
        for key, w, align in _COLUMNS:
            pdf.cell(w, 6, printable(t[key]), align=align, fill=True)
        pdf.ln(6)

    table_header()
    bottom = pdf.h - 20
    pdf.set_font(FONT, "", 8)
    desc_w = _COLUMNS[2][1] - 2
    sku_w = _COLUMNS[1][1] - 1
    for number, ln in enumerate(quote.lines, start=1):
        desc = _wrap(pdf, printable(ln.description), desc_w)
        sku = _wrap(pdf, printable(ln.sku), sku_w)
        text_rows = max(len(desc), len(sku), 1)
        height = text_rows * _LINE_HEIGHT + 1.6
        if pdf.get_y() + height > bottom:
            pdf.add_page()
            table_header()
            pdf.set_font(FONT, "", 8)
        y = pdf.get_y() + 0.8
        cells = (
            [str(number)],
            sku,
            desc,
            [f"{n.plain(ln.quantity)} {printable(ln.unit_of_measure)}"],
            [n.price(ln.unit_price)],
            [n.plain(ln.discount_percent) + " %" if ln.discount_percent else "-"],
            [n.percent(ln.tax_rate)],
            [n.money(ln.amounts.total)],
        )
        x = pdf.l_margin
        for (_key, w, align), texts in zip(_COLUMNS, cells, strict=True):
            for k, text in enumerate(texts):
                pdf.set_xy(x, y + k * _LINE_HEIGHT)
                pdf.cell(w, _LINE_HEIGHT, text, align=align)
            x += w
        pdf.set_y(y + text_rows * _LINE_HEIGHT + 0.8)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())

    # Totals: subtotal, discounts, tax per rate, total.
    figures = quote.totals
    rows_out: list[tuple[str, str, bool]] = [(t["subtotal"], n.money(figures.subtotal), False)]
    if figures.discount_total:
        rows_out.append((t["discount"], "-" + n.money(figures.discount_total), False))
    for tax in figures.tax_totals:
        label = t["tax_line"] if tax.rate else t["exempt"]
        rows_out.append((label.format(rate=n.percent(tax.rate), base=n.money(tax.taxable)), n.money(tax.tax), False))
    rows_out.append((f"{t['total']} {quote.currency}", n.money(figures.total), True))
    needed = len(rows_out) * 6 + 4
    if pdf.get_y() + needed > bottom:
        pdf.add_page()
    pdf.ln(3)
    for label, amount, strong in rows_out:
        pdf.set_x(pdf.l_margin + width - 100)
        pdf.set_font(FONT, "B" if strong else "", 10.5 if strong else 9)
        pdf.cell(70, 6, printable(label), align="R")
        pdf.cell(30, 6, amount, align="R", new_x="LMARGIN", new_y="NEXT")

    # Validity and terms.
    _paragraphs(pdf, width, bottom, t, quote, locale)
    return bytes(pdf.output())


def _paragraphs(pdf: _Document, width: float, bottom: float, t: dict[str, str], quote: Quote, locale: str) -> None:
    pdf.ln(4)
    pdf.set_text_color(*INK)
    blocks: list[tuple[str, Sequence[str]]] = []
    if quote.valid_until:
        blocks.append(("", [t["validity"].format(date=format_date(quote.valid_until, "long", locale=locale))]))
    if quote.terms:
        blocks.append((t["terms"], [quote.terms]))
    for title, texts in blocks:
        if title:
            if pdf.get_y() + 10 > bottom:
                pdf.add_page()
            pdf.set_font(FONT, "B", 9)
            pdf.cell(width, 6, printable(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 8.5)
        for text in texts:
            for part in _wrap(pdf, printable(text), width):
                if pdf.get_y() + 4.4 > bottom:
                    pdf.add_page()
                    pdf.set_font(FONT, "", 8.5)
                pdf.cell(width, 4.4, part, new_x="LMARGIN", new_y="NEXT")


def filename(quote: Quote) -> str:
    return f"{quote.number}.pdf"
