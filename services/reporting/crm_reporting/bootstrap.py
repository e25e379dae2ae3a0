"""Wires the reporting service: its servicer (budgets and indicators from BudgetIndicatorRpcs,
report definitions, runs and exports from ReportRpcs), migrations, and the durable consumers that
build the read models from the other services' events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import ServiceSpec
from crm_reporting.entrypoints.grpc_servicer import ReportingServicer

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_spec(clock: Clock = utc_now) -> ServiceSpec:
    """The service as it runs; tests pass a fixed clock."""

    def register(server: GrpcServer, db: Database) -> None:
        server.register(ReportingServicer(db, clock=clock))

    return ServiceSpec(name="reporting", migrations="crm_reporting:migrations", register=register)


SPEC = build_spec()
