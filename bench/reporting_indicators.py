"""Management indicators over big read models, and the lag from a deal won to the indicator.

On SQLite and, with --postgres-url, on a scratch PostgreSQL database:
  seed        --deals rm_deals rows and --activities rm_activities rows written straight into the
              read-model tables with Core executemany (--owners owners in teams of --team-size,
              three years of dates, USD and CLP, 55 % closed), timed (not a target);
  plans       the query plans of the indicator queries (EXPLAIN QUERY PLAN / EXPLAIN): each must
              read a covering index of live rows;
  indicators  GetIndicators for one team and one quarter through the reporting service's gRPC
              server, --runs times: p50/p99 (target p99 < 300 ms over 1,000,000 deals and
              2,000,000 activities);
  lag         the reporting service runs on that database with a nats-server of its own; for
              --lag-seconds, --rate events/s flow into the deals stream (updates of seeded deals
              and completed activities), and every --probe-every seconds a deal_won of a probe
              user is published; a poller asks GetIndicators for that user until the probe's
              amount counts: lag from publish to first seen, p50/p99 (target p99 < 500 ms at 200
              events/s for a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import percentile, run_on_backends

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm.reporting.v1 import reporting_pb2 as pb
from crm.reporting.v1 import reporting_pb2_grpc
from crm_platform.config import PlatformSettings, ServiceConfig
from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import MSG_ID_HEADER, EventBus, subject_for
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.testing import scratch_postgres
from crm_reporting.adapters import tables as t
from crm_reporting.bootstrap import build_spec
from crm_reporting.domain.periods import Period, PeriodKind
from crm_reporting.service_layer import indicators

ZONE = ZoneInfo("America/Bogota")
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = 3 * 365 * 86_400
KINDS = ("call", "meeting", "visit", "task", "email")
CHUNK = 50_000


def fake_id(kind: int, i: int) -> str:
    return f"{kind:08x}-0000-7000-8000-{i:012x}"


def owner_of(i: int, owners: int) -> str:
    return fake_id(1, i % owners)


def team_of(owner: int, team_size: int) -> str:
    return fake_id(2, owner // team_size)


def seed(db: Database, args: argparse.Namespace) -> tuple[float, float]:
    rnd = random.Random(9)
    now = datetime.now(UTC)
    with db.uow() as uow:
        uow.session.execute(
            sa.insert(t.rm_users),
            [
                {"id": fake_id(1, o), "team_id": team_of(o, args.team_size), "version": 1, "event_time": now}
                for o in range(args.owners)
            ],
        )
        stages = [fake_id(3, s) for s in range(4)]
        uow.session.execute(
            sa.insert(t.rm_stages),
            [
                {
                    "id": s,
                    "pipeline_id": fake_id(4, 0),
                    "name": f"Etapa {i}",
                    "position": i,
                    "default_probability": 10 * i,
                    "kind": "open",
                }
                for i, s in enumerate(stages)
            ],
        )
        uow.commit()
    started = time.perf_counter()
    for base in range(0, args.deals, CHUNK):
        rows = []
        for i in range(base, min(base + CHUNK, args.deals)):
            created = EPOCH + timedelta(seconds=rnd.randrange(SPAN))
            roll = rnd.random()
            status = "won" if roll < 0.3 else "lost" if roll < 0.55 else "open"
            closed = created + timedelta(days=rnd.randrange(1, 120)) if status != "open" else None
            currency = "USD" if rnd.random() < 0.7 else "CLP"
            rows.append(
                {
                    "id": fake_id(5, i),
                    "owner_id": owner_of(i, args.owners),
                    "stage_id": stages[rnd.randrange(4)],
                    "status": status,
                    "probability": rnd.randrange(0, 101, 5),
                    "currency_code": currency,
                    "amount_minor": rnd.randrange(10_000, 10_000_000),
                    "expected_close_date": (created + timedelta(days=rnd.randrange(10, 200))).date(),
                    "created_at": created,
                    "won_at": closed if status == "won" else None,
                    "lost_at": closed if status == "lost" else None,
                    "closed_at": closed,
                    "sales_cycle_seconds": int((closed - created).total_seconds()) if status == "won" and closed else 0,
                    "version": 1,
                    "event_time": created,
                }
            )
        with db.uow() as uow:
            uow.session.execute(sa.insert(t.rm_deals), rows)
            uow.commit()
    deals_s = time.perf_counter() - started
    started = time.perf_counter()
    for base in range(0, args.activities, CHUNK):
        rows = []
        for i in range(base, min(base + CHUNK, args.activities)):
            due = EPOCH + timedelta(seconds=rnd.randrange(SPAN))
            done = rnd.random() < 0.8
            rows.append(
                {
                    "id": fake_id(6, i),
                    "kind": KINDS[i % 5],
                    "owner_id": owner_of(i, args.owners),
                    "status": "done" if done else "scheduled",
                    "due_at": due,
                    "done_at": due if done else None,
                    "version": 1,
                    "event_time": due,
                }
            )
        with db.uow() as uow:
            uow.session.execute(sa.insert(t.rm_activities), rows)
            uow.commit()
    return deals_s, time.perf_counter() - started


def plans(db: Database, team: str, period: Period) -> list[str]:
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        statements.append((statement, params))

    sa.event.listen(db.engine, "before_cursor_execute", grab)
    indicators.get_indicators(db, indicators.Scope.TEAM, team, period, ZONE)
    sa.event.remove(db.engine, "before_cursor_execute", grab)
    out = []
    with db.engine.connect() as conn:
        for statement, params in statements:
            table = statement.split("FROM", 1)[1].split()[0] if "FROM" in statement else ""
            if table not in ("rm_deals", "rm_activities", "rm_prospects", "rm_quotes"):
                continue
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
            rows = conn.exec_driver_sql(prefix + statement, params).all()
            plan = " | ".join(str(r[-1]).strip() for r in rows)
            out.append(f"{table}: {plan[:230]}")
    return out


def get(stub: Any, scope: int, scope_id: str, period: Period) -> pb.Indicators:
    req = pb.GetIndicatorsRequest(
        scope=scope,
        scope_id=scope_id,
        period_kind=pb.PERIOD_KIND_QUARTER,
        period_start=types_pb2.Date(year=period.start.year, month=period.start.month, day=period.start.day),
    )
    return stub.GetIndicators(req, timeout=30).indicators


def probe_event(user: str, deal_seq: int) -> tuple[str, bytes, dict[str, str]]:
    now = datetime.now(UTC)
    deal = deals_pb2.Deal(id=new_id(), owner_id=user, status=deals_pb2.DEAL_STATUS_WON, version=2, stage_id="")
    deal.amount.CopyFrom(types_pb2.Money(amount="1.00", currency_code="USD"))
    deal.won_time.FromDatetime(now)
    deal.create_time.FromDatetime(now - timedelta(days=1))
    event = deals_events.DealWon(deal=deal)
    event.meta.event_id = new_id()
    event.meta.occurred_at.FromDatetime(now)
    return subject_for(event), event.SerializeToString(), {MSG_ID_HEADER: event.meta.event_id}


def noise_event(i: int, args: argparse.Namespace) -> tuple[str, bytes, dict[str, str]]:
    now = datetime.now(UTC)
    if i % 4:
        n = random.randrange(args.deals)
        deal = deals_pb2.Deal(id=fake_id(5, n), owner_id=owner_of(n, args.owners), version=2 + i, probability=i % 100)
        deal.status = deals_pb2.DEAL_STATUS_OPEN
        deal.stage_id = fake_id(3, i % 4)
        deal.amount.CopyFrom(types_pb2.Money(amount=f"{i % 1000}.00", currency_code="USD"))
        event: Any = deals_events.DealUpdated(deal=deal)
    else:
        a = deals_pb2.Activity(id=new_id(), owner_id=owner_of(i, args.owners), version=2)
        a.kind, a.status = deals_pb2.ACTIVITY_KIND_CALL, deals_pb2.ACTIVITY_STATUS_DONE
        a.done_time.FromDatetime(now)
        event = deals_events.ActivityCompleted(activity=a)
    event.meta.event_id = new_id()
    event.meta.occurred_at.FromDatetime(now)
    return subject_for(event), event.SerializeToString(), {MSG_ID_HEADER: event.meta.event_id}


def measure_lag(stub: Any, nats_url: str, args: argparse.Namespace, period: Period) -> tuple[list[float], int]:
    probe_user = fake_id(7, 0)
    published: list[float] = []
    seen_at: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        seen = 0
        deadline = time.monotonic() + args.lag_seconds + 60
        while not stop.is_set() and time.monotonic() < deadline:
            ind = get(stub, pb.INDICATOR_SCOPE_USER, probe_user, period)
            achieved = next((int(Decimal(a.achieved.amount)) for a in ind.budget_attainments), 0)
            now = time.monotonic()
            while seen < achieved:
                seen += 1
                seen_at[seen] = now
            time.sleep(0.002)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()

    async def publish() -> int:
        bus = EventBus(nats_url, "bench-publisher")
        await bus.connect()
        assert bus.js is not None
        sent = 0
        try:
            start = time.monotonic()
            end = start + args.lag_seconds
            next_probe = start
            tick = 1.0 / args.rate
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_probe:
                    subject, data, headers = probe_event(probe_user, len(published))
                    published.append(time.monotonic())
                    await bus.js.publish(subject, data, headers=headers)
                    next_probe += args.probe_every
                subject, data, headers = noise_event(sent, args)
                await bus.js.publish(subject, data, headers=headers)
                sent += 1
                target = start + sent * tick
                delay = target - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        finally:
            await bus.close()
        return sent

    sent = asyncio.run(publish())
    deadline = time.monotonic() + 30
    while len(seen_at) < len(published) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    poller.join(5)
    lags = [seen_at[k + 1] - p for k, p in enumerate(published) if k + 1 in seen_at]
    if len(lags) < len(published):
        print(f"  {len(published) - len(lags)} probes not seen within 30 s of the end")
    return lags, sent


def run_backend(label: str, url: str, nats_url: str, args: argparse.Namespace) -> None:
    print(f"\n== {label}")
    db = Database(url, "reporting")
    run_migrations(db, "crm_reporting:migrations")
    deals_s, activities_s = seed(db, args)
    print(
        f"seed: {args.deals:,} deals in {deals_s:.1f}s ({args.deals / deals_s:,.0f} rows/s), "
        f"{args.activities:,} activities in {activities_s:.1f}s ({args.activities / activities_s:,.0f} rows/s)"
    )
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    team = team_of(0, args.team_size)
    today = datetime.now(ZONE).date()
    past = Period.of(PeriodKind.QUARTER, date(2025, 4, 1))
    for line in plans(db, team, past):
        print(f"  plan {line}")

    settings = PlatformSettings(nats_url=nats_url, relay_poll_seconds=0.05)
    config = ServiceConfig("reporting", url, "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", settings)
    runtime = ServiceRuntime(build_spec(), config)
    runtime.start()
    try:
        assert runtime.ready.wait(60), "the reporting service did not become ready"
        channel = grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}")
        stub = reporting_pb2_grpc.ReportingServiceStub(channel)
        ind = get(stub, pb.INDICATOR_SCOPE_TEAM, team, past)
        won = sum(int(Decimal(a.achieved.amount)) for a in ind.budget_attainments)
        print(
            f"  team {team[:8]}.. Q2 2025: win rate {ind.win_rate}, won (all currencies, units) {won:,}, "
            f"{sum(r.done_count for r in ind.activities_done):,} activities done"
        )
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            get(stub, pb.INDICATOR_SCOPE_TEAM, team, past)
            times.append((time.perf_counter() - started) * 1000)
        p99 = percentile(times, 99)
        verdict = "OK" if p99 < 300 else "ABOVE TARGET"
        print(
            f"indicators team+quarter ({args.runs} runs): p50 {statistics.median(times):.1f} ms, "
            f"p99 {p99:.1f} ms (target p99 < 300 ms: {verdict})"
        )
        times = []
        for _ in range(max(3, args.runs // 5)):
            started = time.perf_counter()
            get(stub, pb.INDICATOR_SCOPE_COMPANY, "", past)
            times.append((time.perf_counter() - started) * 1000)
        print(f"indicators company+quarter ({len(times)} runs, information): p50 {statistics.median(times):.1f} ms")
        current = Period.containing(PeriodKind.QUARTER, today)
        lags, sent = measure_lag(stub, nats_url, args, current)
        if lags:
            ms = [x * 1000 for x in lags]
            p99 = percentile(ms, 99)
            verdict = "OK" if p99 < 500 else "ABOVE TARGET"
            print(
                f"event lag deal_won → indicator ({len(ms)} probes, {sent:,} other events at {args.rate}/s for "
                f"{args.lag_seconds}s): p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {max(ms):.0f} ms "
                f"(target p99 < 500 ms: {verdict})"
            )
        channel.close()
    finally:
        runtime.stop(grace=1)
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=2_000_000)
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument("--team-size", type=int, default=10)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--lag-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="background events/s during the lag test")
    parser.add_argument("--probe-every", type=float, default=0.25, help="seconds between probe deal_won events")
    parser.add_argument("--postgres-url", default="", help="also run on a scratch database of this server")
    parser.add_argument("--postgres-only", action="store_true", help="with --postgres-url: skip the SQLite run")
    args = parser.parse_args()
    if args.postgres_only:
        if not args.postgres_url:
            parser.error("--postgres-only needs --postgres-url")
        with tempfile.TemporaryDirectory(prefix="crm-bench-reporting-indicators-") as tmp:
            server = NatsServer(Path(tmp) / "nats", log_file=Path(tmp) / "nats.log").start()
            try:
                with scratch_postgres(args.postgres_url, "crm_bench_reporting_indicators") as pg_url:
                    run_backend("postgresql", pg_url, server.url, args)
            finally:
                server.stop()
        return 0
    return run_on_backends(args, "reporting-indicators", "reporting.db", lambda _url: None, run_backend)


if __name__ == "__main__":
    sys.exit(main())
