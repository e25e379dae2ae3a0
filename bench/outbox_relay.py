"""Outbox relay throughput against raw JetStream publishing, measured in one run.

On a fresh nats-server (own temp store) and a fresh SQLite file (plus a scratch PostgreSQL
database when --postgres-url is given):
  (a) raw nats-py: publish_async N events in windows of --batch-size, awaiting every ack;
  (b) relay: N events staged in the outbox first (UnitOfWork.add_event, a few big transactions),
      then an OutboxRelay drains them to JetStream acks; timed from start until the backlog is 0;
  (c) end to end: events committed one per transaction while the relay runs (woken by the commit
      hook, as in a service); commit → publish latency (outbox published_at, set once acked).
Target: (b) ≥ 50 % of (a)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
from _support import client_created, percentile, published_form, rate, scratch_postgres
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import DUPLICATE_WINDOW_SECONDS, BackgroundLoop, EventBus, stream_name
from crm_platform.nats_server import NatsServer
from crm_platform.outbox import OutboxRelay
from crm_platform.tables import outbox_events

SERVICE = "contacts"
RAW_STREAM = "BENCH_RAW"


@dataclass
class Throughput:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return rate(self.count, self.seconds)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20_000, help="events for (a) and (b) (default 20000)")
    p.add_argument("--batch-size", type=int, default=256, help="relay batch = raw acks in flight (default 256)")
    p.add_argument("--stage-chunk", type=int, default=5_000, help="events per staging transaction (default 5000)")
    p.add_argument("--e2e-events", type=int, default=2_000, help="events committed one by one in (c) (default 2000)")
    p.add_argument(
        "--e2e-rate", type=float, default=500.0, help="commits per second in (c); 0 = as fast as possible (default 500)"
    )
    p.add_argument("--poll-seconds", type=float, default=0.5, help="relay idle poll interval (service default 0.5)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds allowed per measurement (default 60)")
    p.add_argument(
        "--postgres-url",
        default="",
        help="also run (b) and (c) on a scratch database of this server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (created and dropped)",
    )
    args = p.parse_args(argv)
    if args.events < 1 or args.batch_size < 1 or args.e2e_events < 0 or args.stage_chunk < 1:
        p.error("counts must be positive")
    return args


# --- (a) raw JetStream publishing -------------------------------------------------------------


async def bench_raw(url: str, n: int, batch: int, limit: float) -> Throughput:
    """publish_async in windows of `batch` (like the relay: publish a batch, await all its acks)."""
    forms = [published_form(i) for i in range(n)]
    subject = "bench.raw." + forms[0][0].rpartition(".")[2]
    nc = await nats.connect(url, name="bench-raw")
    js = nc.jetstream(timeout=5)
    await js.add_stream(
        StreamConfig(
            name=RAW_STREAM,
            subjects=["bench.raw.>"],
            storage=StorageType.FILE,
            num_replicas=1,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
    )
    sent = 0
    started = time.perf_counter()
    deadline = started + limit
    while sent < n and time.perf_counter() < deadline:
        window = forms[sent : sent + batch]
        futures = [await js.publish_async(subject, payload, headers=dict(headers)) for _s, payload, headers in window]
        done, pending = await asyncio.wait(futures, timeout=5)
        if pending or any(f.exception() is not None for f in done):
            raise RuntimeError("raw publish: an ack failed or timed out")
        sent += len(window)
    elapsed = time.perf_counter() - started
    stored = (await js.stream_info(RAW_STREAM)).state.messages
    await nc.close()
    if stored != sent:
        raise RuntimeError(f"raw publish: {sent} acked but {stored} in the stream")
    return Throughput(sent, elapsed)


# --- (b) outbox relay draining a staged backlog -----------------------------------------------


def stage_backlog(db: Database, n: int, chunk: int, limit: float) -> Throughput:
    staged = 0
    started = time.perf_counter()
    deadline = started + limit
    while staged < n and time.perf_counter() < deadline:
        with db.uow() as uow:
            for i in range(staged, min(staged + chunk, n)):
                uow.add_event(client_created(i))
            uow.commit()
        staged = min(staged + chunk, n)
    return Throughput(staged, time.perf_counter() - started)


def pending_rows(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).where(outbox_events.c.published_at.is_(None))) or 0)


async def fresh_service_stream(bus: EventBus) -> None:
    assert bus.js is not None
    with contextlib.suppress(NotFoundError):
        await bus.js.delete_stream(stream_name(SERVICE))
    await bus.ensure_stream(SERVICE)


async def bench_relay(db: Database, url: str, n: int, batch: int, poll: float, limit: float) -> Throughput:
    bus = EventBus(url, "bench-relay")
    await bus.connect()
    await fresh_service_stream(bus)
    relay = OutboxRelay(db, bus, batch_size=batch, poll_seconds=poll)
    stop = asyncio.Event()
    started = time.perf_counter()
    deadline = started + limit
    task = asyncio.create_task(relay.run(stop))
    while relay.published_total < n and time.perf_counter() < deadline and not task.done():
        await asyncio.wait([task], timeout=0.002)  # returns at once if the relay task died
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert bus.js is not None
    stored = (await bus.js.stream_info(stream_name(SERVICE))).state.messages
    await bus.close()
    backlog = await asyncio.to_thread(pending_rows, db)
    if backlog or stored != n:
        print(f"  ! relay stopped with backlog {backlog}, {stored} of {n} in the stream", file=sys.stderr)
    return Throughput(relay.published_total, elapsed)


# --- (c) commit → publish latency with the relay running --------------------------------------


@dataclass
class Latency:
    committed: int
    commit_seconds: float
    published: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def bench_e2e(db: Database, url: str, count: int, per_second: float, batch: int, poll: float, limit: float) -> Latency:
    """Commits `count` events one per transaction (paced at `per_second`, 0 = flat out) from this
    thread while a relay runs on a background loop, woken by the commit hook as in a service."""
    loop = BackgroundLoop("bench-e2e")
    bus = EventBus(url, "bench-e2e")
    relay = OutboxRelay(db, bus, batch_size=batch, poll_seconds=poll)
    commit_time: dict[str, datetime] = {}
    last_commit: list[datetime] = []
    # Registered before relay.wake: stamps the instant the commit returned, before the relay is woken.
    db.on_events_committed(lambda: last_commit.append(datetime.now(UTC)))
    db.on_events_committed(relay.wake)
    stop_holder: list[asyncio.Event] = []
    connected = threading.Event()

    async def _main() -> None:
        stop = asyncio.Event()
        stop_holder.append(stop)
        await bus.connect()
        await bus.ensure_stream(SERVICE)
        connected.set()
        await relay.run(stop)

    task = loop.submit(_main())
    try:
        if not connected.wait(10):
            raise RuntimeError("the e2e relay did not connect")
        base = relay.published_total
        started = time.perf_counter()
        deadline = started + limit
        for i in range(count):
            if time.perf_counter() > deadline:
                break
            if per_second > 0:
                delay = started + i / per_second - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            with db.uow() as uow:
                event_id = uow.add_event(client_created(i))
                uow.commit()
            commit_time[event_id] = last_commit.pop()
        commit_seconds = time.perf_counter() - started
        while relay.published_total - base < len(commit_time) and time.perf_counter() < deadline + 10:
            time.sleep(0.005)
    finally:
        if stop_holder:
            loop.call_soon(stop_holder[0].set)
        try:
            loop.submit(bus.close()).result(5)
            task.result(5)
        finally:
            loop.stop()
    with db.read() as s:
        rows = s.execute(
            select(outbox_events.c.event_id, outbox_events.c.published_at).where(
                outbox_events.c.published_at.is_not(None)
            )
        ).all()
    latencies = []
    for event_id, published_at in rows:
        committed_at = commit_time.get(event_id)
        if committed_at is None:
            continue
        if published_at.tzinfo is None:  # SQLite hands back naive UTC datetimes
            published_at = published_at.replace(tzinfo=UTC)
        latencies.append((published_at - committed_at).total_seconds() * 1000)
    if not latencies:
        raise RuntimeError("no event of the e2e run was published")
    return Latency(
        committed=len(commit_time),
        commit_seconds=commit_seconds,
        published=len(latencies),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
    )


# --- driver -----------------------------------------------------------------------------------


def run_backend(label: str, db_url: str, nats_url: str, raw: Throughput, args: argparse.Namespace) -> None:
    db = Database(db_url, SERVICE)
    try:
        run_migrations(db, "crm_contacts:migrations")
        staged = stage_backlog(db, args.events, args.stage_chunk, args.time_limit)
        print(
            f"[{label}] staging (not a target): {staged.count} events via UnitOfWork.add_event in "
            f"{args.stage_chunk}-event transactions, {staged.per_second:,.0f} events/s"
        )
        relay = asyncio.run(
            bench_relay(db, nats_url, staged.count, args.batch_size, args.poll_seconds, args.time_limit)
        )
        ratio = relay.per_second / raw.per_second
        verdict = "OK" if ratio >= 0.5 else "BELOW TARGET"
        print(
            f"[{label}] (b) outbox relay, backlog of {staged.count} → JetStream acks (batch {args.batch_size}): "
            f"{relay.count} events in {relay.seconds:.2f} s = {relay.per_second:,.0f} events/s"
        )
        print(f"[{label}] relay / raw = {ratio:.0%} (target ≥ 50 %: {verdict})")
        if args.e2e_events:
            lat = bench_e2e(
                db, nats_url, args.e2e_events, args.e2e_rate, args.batch_size, args.poll_seconds, args.time_limit
            )
            pace = f"{args.e2e_rate:g}/s" if args.e2e_rate > 0 else "flat out"
            print(
                f"[{label}] (c) e2e commit→publish, {lat.committed} single-event commits paced {pace} "
                f"(achieved {rate(lat.committed, lat.commit_seconds):,.0f}/s), {lat.published} published: "
                f"p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, max {lat.max_ms:.1f} ms"
            )
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crm-bench-outbox-") as tmp:
        tmp_path = Path(tmp)
        server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
        try:
            print(f"nats-server {server.url}; {args.events} events, batch {args.batch_size}")
            raw = asyncio.run(bench_raw(server.url, args.events, args.batch_size, args.time_limit))
            print(
                f"(a) raw nats-py publish_async, {args.batch_size} acks in flight: "
                f"{raw.count} events in {raw.seconds:.2f} s = {raw.per_second:,.0f} events/s"
            )
            run_backend("sqlite", f"sqlite:///{tmp_path / 'contacts.db'}", server.url, raw, args)
            if args.postgres_url:
                with scratch_postgres(args.postgres_url, "crm_bench_outbox") as pg_url:
                    run_backend("postgresql", pg_url, server.url, raw, args)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
