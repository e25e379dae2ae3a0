"""Wires the reporting service: its servicer (budgets and indicators from BudgetIndicatorRpcs,
report definitions, runs and exports from ReportRpcs), migrations, the durable consumers that
build the read models from the other services' events, and the read-model gauges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from crm_platform.consumer import EventConsumer
from crm_platform.db import Database
from crm_platform.grpc_server import GrpcServer
from crm_platform.service import BackgroundTask, ServiceSpec
from crm_reporting.entrypoints.consumers import consumers
from crm_reporting.entrypoints.gauges import ReadModelGauges
from crm_reporting.entrypoints.grpc_servicer import ReportingServicer
from crm_reporting.settings import reporting_settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_spec(clock: Clock = utc_now) -> ServiceSpec:
    """The service as it runs; tests pass a fixed clock."""

    def register(server: GrpcServer, db: Database) -> None:
        server.register(ReportingServicer(db, clock=clock))

    def make_consumers(db: Database) -> list[EventConsumer]:
        return consumers(db)

    def background(db: Database) -> list[BackgroundTask]:
        return [ReadModelGauges(db, reporting_settings().gauges_seconds)]

    return ServiceSpec(
        name="reporting",
        migrations="crm_reporting:migrations",
        register=register,
        consumers=make_consumers,
        background=background,
        settings=reporting_settings,
    )


SPEC = build_spec()
