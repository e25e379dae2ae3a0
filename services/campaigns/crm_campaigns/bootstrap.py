"""Wires the campaigns service. Its RPCs are defined in protos/crm/campaigns/v1; until the campaigns issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.campaigns.v1 import campaigns_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(campaigns_pb2_grpc.CampaignsServiceServicer())


SPEC = ServiceSpec(name="campaigns", migrations="crm_campaigns:migrations", register=register)
