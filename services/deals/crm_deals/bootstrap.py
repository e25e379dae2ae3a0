"""Wires the deals service. Its RPCs are defined in protos/crm/deals/v1; until the deals issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(
        deals_pb2_grpc.add_DealsServiceServicer_to_server,
        deals_pb2_grpc.DealsServiceServicer(),
        [deals_pb2.DESCRIPTOR.services_by_name["DealsService"].full_name],
    )


SPEC = ServiceSpec(name="deals", migrations="crm_deals:migrations", register=register)
