"""Wires the campaigns service. Its RPCs are defined in protos/crm/campaigns/v1; until the campaigns issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.campaigns.v1 import campaigns_pb2, campaigns_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, db: Database) -> None:
    server.register(
        campaigns_pb2_grpc.add_CampaignsServiceServicer_to_server,
        campaigns_pb2_grpc.CampaignsServiceServicer(),
        [campaigns_pb2.DESCRIPTOR.services_by_name["CampaignsService"].full_name],
    )


SPEC = ServiceSpec(name="campaigns", migrations="crm_campaigns:migrations", register=register)
