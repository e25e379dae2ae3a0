"""Wires the contacts service: its servicer, migrations and (later) consumers."""

from __future__ import annotations

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_contacts.entrypoints.grpc_servicer import ContactsServicer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(
        contacts_pb2_grpc.add_ContactsServiceServicer_to_server,
        ContactsServicer(db),
        [contacts_pb2.DESCRIPTOR.services_by_name["ContactsService"].full_name],
    )


SPEC = ServiceSpec(name="contacts", migrations="crm_contacts:migrations", register=register)
