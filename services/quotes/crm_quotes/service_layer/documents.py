"""The quote's PDF: the quote as read, its client and contact from the contacts service, the
company header from the settings; rendered by adapters.pdf."""

from __future__ import annotations

from dataclasses import dataclass

from crm_platform.db import Database
from crm_platform.errors import InvalidArgument
from crm_quotes.adapters.contacts_directory import ContactsDirectory
from crm_quotes.adapters.pdf import Company, filename, pdf_locale, render_quote
from crm_quotes.service_layer.quotes import Quoting, get_quote

LOCALE_MAX = 35


@dataclass(frozen=True)
class Documents:
    """What rendering needs besides the quote: the contacts service, the company, the default
    language."""

    contacts: ContactsDirectory
    company: Company
    default_locale: str = "es"


def render_quote_pdf(
    db: Database, quoting: Quoting, documents: Documents, quote_id: str, locale: str = ""
) -> tuple[bytes, str]:
    """(the PDF, its file name "COT-2026-0001.pdf")."""
    if len(locale) > LOCALE_MAX:
        raise InvalidArgument.field("locale", f"must be at most {LOCALE_MAX} characters")
    quote = get_quote(db, quoting, quote_id)
    client = documents.contacts.client(quote.client_id) if quote.client_id else None
    contact = documents.contacts.contact(quote.contact_id) if quote.contact_id else None
    issued = quote.send_time or quote.created_at or quoting.clock()
    pdf = render_quote(
        quote,
        client,
        contact,
        documents.company,
        pdf_locale(locale, documents.default_locale),
        issued.astimezone(quoting.calendar.zone).date(),
    )
    return pdf, filename(quote)
