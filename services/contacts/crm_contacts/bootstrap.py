"""Wires the contacts service: its servicer, migrations and (later) consumers."""

from __future__ import annotations

from crm_contacts.entrypoints.grpc_servicer import ContactsServicer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(ContactsServicer(db))


SPEC = ServiceSpec(name="contacts", migrations="crm_contacts:migrations", register=register)
