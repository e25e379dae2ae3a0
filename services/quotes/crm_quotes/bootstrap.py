"""Wires the quotes service. Its RPCs are defined in protos/crm/quotes/v1; until the quotes issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.quotes.v1 import quotes_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(quotes_pb2_grpc.QuotesServiceServicer())


SPEC = ServiceSpec(name="quotes", migrations="crm_quotes:migrations", register=register)
