"""Wires the deals service. Its RPCs are defined in protos/crm/deals/v1; until the deals issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.deals.v1 import deals_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(deals_pb2_grpc.DealsServiceServicer())


SPEC = ServiceSpec(name="deals", migrations="crm_deals:migrations", register=register)
