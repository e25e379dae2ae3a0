"""Wires the deals service: its servicer (with the contacts service as its directory of clients,
contacts and prospects, and the quotes service's catalogue), migrations, the default pipeline, and
the consumers of the quotes and contacts events it reacts to."""

from __future__ import annotations

from crm_deals.adapters.catalogue import GrpcCatalogue
from crm_deals.adapters.contacts_directory import GrpcContactsDirectory
from crm_deals.entrypoints.consumers import consumers
from crm_deals.entrypoints.grpc_servicer import DealsServicer
from crm_deals.service_layer.pipelines import Clock, ensure_default_pipeline, utc_now
from crm_deals.settings import deals_settings
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def build_spec(clock: Clock = utc_now) -> ServiceSpec:
    """The service as it runs; tests pass a fixed clock. Settings are read when it starts."""

    def register(server: GrpcServer, db: Database) -> None:
        currency = deals_settings().default_currency
        server.register(
            DealsServicer(db, GrpcContactsDirectory(), GrpcCatalogue(), default_currency=currency, clock=clock)
        )

    def make_consumers(db: Database) -> list[EventConsumer]:
        return consumers(db, deals_settings().default_currency)

    def seed(db: Database) -> None:
        ensure_default_pipeline(db, clock)

    return ServiceSpec(
        name="deals",
        migrations="crm_deals:migrations",
        register=register,
        consumers=make_consumers,
        on_start=seed,
        settings=deals_settings,
    )


SPEC = build_spec()
