"""Fixtures of the read-model, indicator, budget and rebuild tests: a nats-server of the test's
own (the reporting service reads every stream from the start: other tests' events would land in
its read models), its streams created with a 1 ms duplicate window (so that publishing an event
twice delivers it twice, as a relay retry after the window does), the reporting service on SQLite
or PostgreSQL, and builders of the other services' events (whole records with a version, as the
services publish them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.message import Message
from nats.js.api import StorageType, StreamConfig

from crm.campaigns.v1 import campaigns_pb2
from crm.campaigns.v1 import events_pb2 as campaigns_events
from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm.identity.v1 import events_pb2 as identity_events
from crm.identity.v1 import identity_pb2
from crm.quotes.v1 import quotes_pb2
from crm.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from crm_platform.eventbus import EventBus, stream_name, stream_subjects
from crm_platform.grpc_client import close_channels
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import publish_events
from crm_reporting.adapters import tables as t
from crm_reporting.bootstrap import build_spec
from crm_reporting.entrypoints.consumers import SOURCES

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DUPLICATE_WINDOW = 0.1


def at(text: str) -> datetime:
    """An instant written as ISO 8601 in UTC: at("2026-02-10T15:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ts(when: datetime | None) -> Any:
    if when is None:
        return None
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def pdate(day: date | None) -> types_pb2.Date | None:
    return None if day is None else types_pb2.Date(year=day.year, month=day.month, day=day.day)


def money(amount: str, currency: str) -> types_pb2.Money:
    return types_pb2.Money(amount=amount, currency_code=currency)


def meta(when: datetime, producer: str) -> types_pb2.EventMeta:
    return types_pb2.EventMeta(event_id=new_id(), occurred_at=ts(when), producer=producer)


def _set(msg: Message, **fields: Any) -> Message:
    for name, value in fields.items():
        if value is None:
            continue
        target = getattr(msg, name)
        if isinstance(value, Message):
            target.CopyFrom(value)
        else:
            setattr(msg, name, value)
    return msg


# ---- the other services' events ---------------------------------------------------------------


def user_created(user_id: str, team_id: str = "", role: int = identity_pb2.ROLE_REP, version: int = 1) -> Message:
    user = identity_pb2.User(id=user_id, email=f"{user_id[:8]}@example.com", role=role, team_id=team_id, active=True)
    user.version = version
    return identity_events.UserCreated(meta=meta(at("2025-12-01T10:00"), "identity"), user=user)


def team_created(team_id: str, manager_id: str, name: str = "Norte") -> Message:
    team = identity_pb2.Team(id=team_id, name=name, manager_id=manager_id, version=1)
    return identity_events.TeamCreated(meta=meta(at("2025-12-01T10:00"), "identity"), team=team)


def pipeline_created(pipeline_id: str, stages: list[tuple[str, str, int, int]]) -> Message:
    p = deals_pb2.Pipeline(id=pipeline_id, name="Ventas", version=1, is_default=True)
    for stage_id, name, probability, kind in stages:
        p.stages.add(id=stage_id, name=name, default_probability=probability, kind=kind)
    return deals_events.PipelineCreated(meta=meta(at("2025-12-01T10:00"), "deals"), pipeline=p)


@dataclass
class DealSpec:
    """A deal as the test writes it: its final state, from which its events are built."""

    id: str
    owner_id: str
    amount: str
    currency: str
    created: datetime
    stage_id: str
    status: int = deals_pb2.DEAL_STATUS_OPEN
    probability: int = 10
    expected_close: date | None = None
    closed: datetime | None = None
    source_campaign_id: str = ""

    def record(self, version: int, *, final: bool) -> deals_pb2.Deal:
        d = deals_pb2.Deal(
            id=self.id,
            title=f"Negocio {self.id[:8]}",
            owner_id=self.owner_id,
            pipeline_id="",
            stage_id=self.stage_id,
            probability=self.probability,
            source_campaign_id=self.source_campaign_id,
            version=version,
            status=self.status if final else deals_pb2.DEAL_STATUS_OPEN,
        )
        _set(d, amount=money(self.amount, self.currency), create_time=ts(self.created))
        _set(d, expected_close_date=pdate(self.expected_close))
        if final and self.status == deals_pb2.DEAL_STATUS_WON:
            _set(d, won_time=ts(self.closed))
            d.sales_cycle_seconds = int((self.closed - self.created).total_seconds())  # type: ignore[operator]
        if final and self.status == deals_pb2.DEAL_STATUS_LOST:
            _set(d, lost_time=ts(self.closed), lost_reason="Precio")
        return d

    def events(self) -> list[Message]:
        """deal_created (version 1), then deal_won / deal_lost (version 2) for a closed deal."""
        created = deals_events.DealCreated(meta=meta(self.created, "deals"), deal=self.record(1, final=False))
        if self.status == deals_pb2.DEAL_STATUS_WON:
            return [created, deals_events.DealWon(meta=meta(self.closed, "deals"), deal=self.record(2, final=True))]  # type: ignore[arg-type]
        if self.status == deals_pb2.DEAL_STATUS_LOST:
            return [created, deals_events.DealLost(meta=meta(self.closed, "deals"), deal=self.record(2, final=True))]  # type: ignore[arg-type]
        return [created]


def activity_event(
    cls: Any, activity_id: str, owner_id: str, kind: int, status: int, done: datetime | None, version: int
) -> Message:
    a = deals_pb2.Activity(
        id=activity_id, owner_id=owner_id, kind=kind, status=status, subject="Llamada", version=version
    )
    _set(a, done_time=ts(done), due_time=ts(done or at("2026-02-01T10:00")), create_time=ts(at("2026-01-02T10:00")))
    return cls(meta=meta(done or at("2026-01-02T10:00"), "deals"), activity=a)  # type: ignore[no-any-return]


def prospect_event(
    cls: Any, prospect_id: str, owner_id: str, created: datetime, status: int, version: int, **extra: Any
) -> Message:
    p = contacts_pb2.Prospect(id=prospect_id, owner_id=owner_id, status=status, version=version, company_name="Pyme")
    _set(p, create_time=ts(created), update_time=ts(created), **extra)
    return cls(meta=meta(created, "contacts"), prospect=p)  # type: ignore[no-any-return]


def quote_event(
    cls: Any, quote_id: str, owner_id: str, status: int, decided: datetime | None, version: int, **times: Any
) -> Message:
    q = quotes_pb2.Quote(id=quote_id, owner_id=owner_id, status=status, version=version, currency_code="USD")
    _set(q, total=money("100.00", "USD"), create_time=ts(at("2026-01-05T10:00")))
    for name, when in times.items():
        _set(q, **{name: ts(when)})
    return cls(meta=meta(decided or at("2026-01-05T10:00"), "quotes"), quote=q)  # type: ignore[no-any-return]


def campaign_event(
    cls: Any,
    campaign_id: str,
    owner_id: str,
    name: str,
    status: int,
    version: int,
    start: date,
    end: date,
    launched: datetime | None,
) -> Message:
    c = campaigns_pb2.Campaign(id=campaign_id, owner_id=owner_id, name=name, status=status, version=version)
    c.type = campaigns_pb2.CAMPAIGN_TYPE_MAILING
    _set(c, start_date=pdate(start), end_date=pdate(end), budget=money("1000.00", "USD"), cost=money("0", "USD"))
    _set(c, launch_time=ts(launched), create_time=ts(at("2026-01-10T10:00")))
    return cls(meta=meta(launched or at("2026-01-10T10:00"), "campaigns"), campaign=c)  # type: ignore[no-any-return]


def spend_recorded(campaign_id: str, amount: str, total: str, when: datetime) -> Message:
    spend = campaigns_pb2.Spend(id=new_id(), campaign_id=campaign_id)
    _set(spend, amount=money(amount, "USD"))
    return campaigns_events.SpendRecorded(meta=meta(when, "campaigns"), spend=spend, campaign_cost=money(total, "USD"))


def lead_captured(campaign_id: str, prospect_id: str, owner_id: str, when: datetime) -> Message:
    return campaigns_events.LeadCaptured(
        meta=meta(when, "campaigns"), campaign_id=campaign_id, prospect_id=prospect_id, owner_id=owner_id
    )


# ---- the world --------------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    nats_url: str
    service: ServiceRuntime
    stub: reporting_pb2_grpc.ReportingServiceStub
    database_url: str
    clock: Clock = field(default_factory=Clock)

    @property
    def db(self) -> Any:
        assert self.service.db is not None
        return self.service.db

    def publish(self, events: list[Message]) -> None:
        publish_events(self.nats_url, events)

    def stream_messages(self) -> int:
        """Messages stored in the five streams (copies included)."""

        async def count() -> int:
            bus = EventBus(self.nats_url, "test-streams")
            await bus.connect()
            assert bus.js is not None
            try:
                return sum([(await bus.js.stream_info(stream_name(s))).state.messages for s in SOURCES])
            finally:
                await bus.close()

        return asyncio.run(count())

    def applied(self) -> int:
        with self.db.read() as s:
            return int(s.scalar(sa.select(sa.func.coalesce(sa.func.sum(t.rm_streams.c.events_applied), 0))) or 0)

    def wait_applied(self, count: int, timeout: float = 30.0) -> None:
        """Polls rm_streams until `count` events have been applied (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.applied() >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.applied()} events applied, expected {count}, within {timeout}s")

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    def indicators(self, scope: int, scope_id: str, kind: int, start: date) -> reporting_pb2.Indicators:
        req = reporting_pb2.GetIndicatorsRequest(
            scope=scope, scope_id=scope_id, period_kind=kind, period_start=pdate(start)
        )
        return self.stub.GetIndicators(req, timeout=10).indicators

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every read-model row, sorted (for before/after comparisons)."""
        out = {}
        with self.db.read() as s:
            for table in t.READ_MODELS:
                rows = s.execute(sa.select(table)).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
        return out

    def count(self, table: sa.Table) -> int:
        with self.db.read() as s:
            return int(s.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def _short_dedupe_streams(nats_url: str) -> None:
    async def make() -> None:
        bus = EventBus(nats_url, "test-streams")
        await bus.connect()
        assert bus.js is not None
        try:
            for source in SOURCES:
                await bus.js.add_stream(
                    StreamConfig(
                        name=stream_name(source),
                        subjects=[stream_subjects(source)],
                        storage=StorageType.FILE,
                        duplicate_window=DUPLICATE_WINDOW,
                    )
                )
        finally:
            await bus.close()

    asyncio.run(make())


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    _short_dedupe_streams(server.url)
    yield server
    server.stop()


@pytest.fixture
def world(
    database_url: str,
    own_nats: NatsServer,
    start_service: Callable[..., ServiceRuntime],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    monkeypatch.setenv("CRM_REPORTING_TIME_ZONE", "America/Bogota")
    monkeypatch.setenv("CRM_REPORTING_GAUGES_SECONDS", "0.2")
    clock = Clock()
    runtime = start_service(build_spec(clock), database_url, nats_url=own_nats.url)
    channel = grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}")
    yield World(
        nats_url=own_nats.url,
        service=runtime,
        stub=reporting_pb2_grpc.ReportingServiceStub(channel),
        database_url=database_url,
        clock=clock,
    )
    channel.close()
    close_channels()
