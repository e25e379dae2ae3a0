"""Wires the contacts service: its servicer, migrations, and its consumer of the deals service's
events (a deal opened by a conversion is remembered on the prospect)."""

from __future__ import annotations

from crm.deals.v1 import events_pb2 as deals_events
from crm_contacts.entrypoints.grpc_servicer import ContactsServicer
from crm_contacts.service_layer.reactions import on_deal_created
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, UnitOfWork
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(ContactsServicer(db))


def _deal_created(uow: UnitOfWork, event: deals_events.DealCreated) -> None:
    on_deal_created(uow, event.deal.id, event.deal.source_prospect_id)


def consumers(db: Database) -> list[EventConsumer]:
    return [EventConsumer(db, "deals", "deals").on(deals_events.DealCreated, _deal_created)]


SPEC = ServiceSpec(name="contacts", migrations="crm_contacts:migrations", register=register, consumers=consumers)
