"""Wires the quotes service: its servicer (with the deals service as the directory of deals and the
contacts service as the one of clients and contacts), its settings (company time zone and PDF
header), migrations, and the expiry sweep. Tests wire fakes of the directories with `spec()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import BackgroundTask, ServiceSpec
from crm_quotes.adapters.contacts_directory import ContactsDirectory, GrpcContactsDirectory
from crm_quotes.adapters.deals_directory import DealsDirectory, GrpcDealsDirectory
from crm_quotes.adapters.pdf import Company
from crm_quotes.domain.quotes import Calendar
from crm_quotes.entrypoints.expiry_sweep import ExpirySweep
from crm_quotes.entrypoints.grpc_servicer import QuotesServicer
from crm_quotes.service_layer.documents import Documents
from crm_quotes.service_layer.quotes import Quoting
from crm_quotes.settings import QuotesSettings, quotes_settings


def spec(
    deals: DealsDirectory | None = None,
    contacts: ContactsDirectory | None = None,
    settings: QuotesSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ServiceSpec:
    """The service's spec; the directories default to the peer services over gRPC, the settings
    to the environment (read when the service starts), the clock to the system's."""

    def wiring() -> tuple[QuotesSettings, Quoting]:
        s = settings or quotes_settings()
        quoting = Quoting(deals or GrpcDealsDirectory(), Calendar(s.zone), s.validity_days)
        return s, (replace(quoting, clock=clock) if clock else quoting)

    def register(server: GrpcServer, db: Database) -> None:
        s, quoting = wiring()
        company = Company(
            name=s.company_name,
            tax_id=s.company_tax_id,
            address=s.company_address,
            phone=s.company_phone,
            email=s.company_email,
            website=s.company_website,
        )
        docs = Documents(contacts or GrpcContactsDirectory(), company, s.pdf_locale)
        server.register(QuotesServicer(db, quoting, docs))

    def background(db: Database) -> list[BackgroundTask]:
        s, quoting = wiring()
        return [ExpirySweep(db, quoting, s.expiry_sweep_seconds)] if s.expiry_sweep_seconds > 0 else []

    return ServiceSpec(
        name="quotes",
        migrations="crm_quotes:migrations",
        register=register,
        background=background,
        settings=(lambda: settings) if settings is not None else quotes_settings,
    )


SPEC = spec()
