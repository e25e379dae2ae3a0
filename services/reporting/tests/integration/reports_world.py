"""The world of the report tests: the reporting service on its own nats-server (its read-model
consumers must not pick up other tests' events) over SQLite or PostgreSQL, once per test module,
with a fixed data set written straight into the read models (Core inserts, as the projectors would
leave them) whose report figures are computed by hand in the tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1 import reporting_pb2_grpc
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import scratch_postgres
from crm_reporting.adapters import tables
from crm_reporting.bootstrap import build_spec

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "")
ANA = "0192d6e0-0000-7000-8000-00000000a001"
BETO = "0192d6e0-0000-7000-8000-00000000b002"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DATA_TIME = datetime(2026, 3, 10, 11, 59, 30, tzinfo=UTC)


def rid(n: int) -> str:
    return f"0192d6e0-0000-7000-8000-{n:012d}"


# The deals: (n, owner, title, currency, amount_minor, status, expected close, created at).
DEALS: list[tuple[int, str, str, str, int, str, date | None, datetime]] = [
    (1, ANA, "Licencias Norte", "USD", 10_000, "won", date(2026, 1, 15), datetime(2026, 1, 10, 12, 0, tzinfo=UTC)),
    # 2026-01-31 22:00 in Bogotá: January there, February in UTC.
    (2, ANA, "Soporte anual", "USD", 5_050, "open", date(2026, 1, 31), datetime(2026, 2, 1, 3, 0, tzinfo=UTC)),
    (3, ANA, "Consultoría_50%", "COP", 1_000_000, "open", date(2026, 2, 10), datetime(2026, 2, 15, 15, 0, tzinfo=UTC)),
    (4, BETO, "Equipos", "USD", 20_000, "lost", date(2026, 2, 20), datetime(2026, 2, 20, 10, 0, tzinfo=UTC)),
    # 2026-02-28 23:59 in Bogotá: February there, March in UTC.
    (5, BETO, "Muestra", "USD", 99, "open", None, datetime(2026, 3, 1, 4, 59, tzinfo=UTC)),
]
# A deleted deal (a tombstone): no report shows it.
TOMBSTONE = (6, ANA, "Borrado", "USD", 99_900, "open", date(2026, 1, 20), datetime(2026, 1, 20, 12, 0, tzinfo=UTC))

# Activities: (n, owner, subject, kind, due at, duration seconds).
ACTIVITIES: list[tuple[int, str, str, str, datetime, int]] = [
    (11, ANA, "Llamar a Lucía", "call", datetime(2026, 3, 2, 14, 0, tzinfo=UTC), 1800),
    (12, ANA, "Visita planta", "visit", datetime(2026, 3, 3, 20, 30, tzinfo=UTC), 0),
    (13, BETO, "Demo", "meeting", datetime(2026, 3, 4, 15, 0, tzinfo=UTC), 3600),
]
# Quotes: (n, owner, number, currency, total_minor, valid until).
QUOTES = [(21, ANA, "COT-2026-0001", "USD", 123_456, date(2026, 3, 31))]
# Campaigns: (n, owner, name, start, end).
CAMPAIGNS = [(31, ANA, "Feria Bogotá", date(2026, 4, 1), date(2026, 4, 3))]


@dataclass
class ReportsWorld:
    runtime: ServiceRuntime
    stub: reporting_pb2_grpc.ReportingServiceStub
    backend: str

    def run(self, definition: pb.ReportDefinition, **kw: Any) -> pb.RunReportResponse:
        return self.stub.RunReport(pb.RunReportRequest(report_definition=definition, **kw), timeout=10)


def seed(runtime: ServiceRuntime) -> None:
    assert runtime.db is not None
    with runtime.db.engine.begin() as conn:
        rows = []
        for n, owner, title, currency, minor, status, close, created in [*DEALS, TOMBSTONE]:
            rows.append(
                {
                    "id": rid(n),
                    "title": title,
                    "owner_id": owner,
                    "currency_code": currency,
                    "amount_minor": minor,
                    "status": status,
                    "probability": 50,
                    "expected_close_date": close,
                    "created_at": created,
                    "version": 3,
                    "deleted": n == TOMBSTONE[0],
                    "event_time": created,
                }
            )
        conn.execute(sa.insert(tables.rm_deals), rows)
        conn.execute(
            sa.insert(tables.rm_activities),
            [
                {
                    "id": rid(n),
                    "owner_id": owner,
                    "subject": subject,
                    "kind": kind,
                    "status": "scheduled",
                    "due_at": due,
                    "duration_seconds": seconds,
                    "version": 2,
                    "event_time": due,
                }
                for n, owner, subject, kind, due, seconds in ACTIVITIES
            ],
        )
        conn.execute(
            sa.insert(tables.rm_quotes),
            [
                {
                    "id": rid(n),
                    "owner_id": owner,
                    "number": number,
                    "currency_code": currency,
                    "total_minor": minor,
                    "valid_until": until,
                    "status": "sent",
                    "version": 1,
                    "event_time": NOW,
                }
                for n, owner, number, currency, minor, until in QUOTES
            ],
        )
        conn.execute(
            sa.insert(tables.rm_campaigns),
            [
                {
                    "id": rid(n),
                    "owner_id": owner,
                    "name": name,
                    "start_date": start,
                    "end_date": end,
                    "currency_code": "COP",
                    "version": 1,
                    "event_time": NOW,
                }
                for n, owner, name, start, end in CAMPAIGNS
            ],
        )
        conn.execute(
            sa.insert(tables.rm_clients),
            [{"id": rid(41), "name": "Industrias Ñandú", "owner_id": ANA, "version": 1, "event_time": NOW}],
        )
        conn.execute(
            sa.insert(tables.rm_streams),
            [
                {"stream": "CRM_DEALS", "events_applied": 10, "last_event_time": DATA_TIME},
                {"stream": "CRM_CONTACTS", "events_applied": 2, "last_event_time": datetime(2026, 3, 1, tzinfo=UTC)},
            ],
        )


@pytest.fixture(name="world", scope="module", params=["sqlite", "postgres"])
def world_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReportsWorld]:
    tmp = tmp_path_factory.mktemp("reports")
    if request.param == "postgres":
        if not POSTGRES_URL:
            pytest.skip("CRM_TEST_POSTGRES_URL is not set (CI sets it): PostgreSQL variant skipped")
        ctx: Any = scratch_postgres(POSTGRES_URL)
    else:
        ctx = _sqlite(tmp / "reporting.db")
    with ctx as url:
        nats = NatsServer(tmp / "nats").start()
        settings = PlatformSettings(nats_url=nats.url, relay_poll_seconds=0.05)
        config = ServiceConfig("reporting", url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings)
        runtime = ServiceRuntime(build_spec(lambda: NOW), config)
        runtime.start()
        try:
            assert runtime.ready.wait(20), "reporting did not become ready"
            seed(runtime)
            channel = grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}")
            yield ReportsWorld(runtime, reporting_pb2_grpc.ReportingServiceStub(channel), request.param)
            channel.close()
        finally:
            runtime.stop(grace=1)
            nats.stop()


class _sqlite:
    def __init__(self, path: Path):
        self.url = f"sqlite:///{path}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def _unique() -> str:
    return str(uuid.uuid4())
