"""Wires the reporting service. Its RPCs are defined in protos/crm/reporting/v1; until the reporting issue
builds them they answer UNIMPLEMENTED (the generated base servicer does), while health,
reflection, metrics, migrations and the outbox relay already run."""

from __future__ import annotations

from crm.reporting.v1 import reporting_pb2_grpc
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec


def register(server: GrpcServer, _db: Database) -> None:
    server.register(reporting_pb2_grpc.ReportingServiceServicer())


SPEC = ServiceSpec(name="reporting", migrations="crm_reporting:migrations", register=register)
