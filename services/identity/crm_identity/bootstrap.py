"""Wires the identity service. Its RPCs are defined in protos/crm/identity/v1; until the identity issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.identity.v1 import identity_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(identity_pb2_grpc.IdentityServiceServicer())


SPEC = ServiceSpec(name="identity", migrations="crm_identity:migrations", register=register)
