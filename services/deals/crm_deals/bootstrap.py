"""Wires the deals service: its servicer (with the contacts service as its directory of clients,
contacts and prospects), migrations, the default pipeline, and the consumers of the quotes and
contacts events it reacts to."""

from __future__ import annotations

from crm_deals.adapters.contacts_directory import GrpcContactsDirectory
from crm_deals.entrypoints.grpc_servicer import DealsServicer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(DealsServicer(db, GrpcContactsDirectory()))


SPEC = ServiceSpec(name="deals", migrations="crm_deals:migrations", register=register)
