"""Outbox relay throughput against raw JetStream publishing, measured in the same run.

On a fresh nats-server (own temp store) and a fresh SQLite file (plus a scratch PostgreSQL
database when --postgres-url is given), --rounds times, interleaved:
  (a) raw nats-py: publish_async N events in windows of --batch-size (the relay's batch), awaiting
      every ack of a window before the next, same payloads and headers as the relay sends;
  (b) relay: N events staged in the outbox first (UnitOfWork.add_event, a few big transactions),
      then an OutboxRelay drains them to JetStream acks; timed from start until the backlog is 0.
Medians of (a) and (b) and their ratio are printed (target: (b) ≥ 50 % of (a)). Then once:
  (c) end to end: events committed one per transaction while a relay runs on a background loop,
      woken by the commit hook as in a service; commit → publish latency p50/p99 (publish = the
      row's published_at, stamped once JetStream acked it);
  (d) optional (--wake-probe): pairs of commits a few ms apart, separated by more than the idle
      poll; counts second commits whose wake-up was lost (they wait for the relay's idle poll)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import threading
import time
from datetime import UTC, datetime

import nats
from _support import Throughput, client_created, percentile, published_form, rate, run_on_backends
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import DUPLICATE_WINDOW_SECONDS, BackgroundLoop, EventBus, stream_name
from crm_platform.outbox import OutboxRelay
from crm_platform.tables import outbox_events

SERVICE = "contacts"
RAW_STREAM = "BENCH_RAW"


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
    p.add_argument("--rounds", type=int, default=3, help="rounds of (a)+(b), medians reported (default 3)")
    p.add_argument(
        "--wake-probe",
        type=int,
        default=0,
        metavar="PAIRS",
        help="(d) also commit PAIRS pairs of events 0.5-9.5 ms apart, poll+0.3 s between pairs (default 0: off)",
    )
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds allowed per measurement (default 60)")
    p.add_argument(
        "--postgres-url",
        default="",
        help="also run every measurement on a scratch database of this server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (created and dropped)",
    )
    args = p.parse_args(argv)
    if (
        args.events < 1
        or args.rounds < 1
        or args.wake_probe < 0
        or args.batch_size < 1
        or args.e2e_events < 0
        or args.stage_chunk < 1
    ):
        p.error("counts must be positive")
    return args


# --- (a) raw JetStream publishing -------------------------------------------------------------


async def bench_raw(url: str, n: int, batch: int, limit: float) -> Throughput:
    """publish_async in windows of `batch` (like the relay: publish a batch, await all its acks)."""
    forms = [published_form(i) for i in range(n)]
    subject = "bench.raw." + forms[0][0].rpartition(".")[2]
    nc = await nats.connect(url, name="bench-raw")
    js = nc.jetstream(timeout=5)
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(RAW_STREAM)
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


def paced_schedule(count: int, per_second: float) -> list[float]:
    """Commit offsets in seconds: evenly paced, or all at once (as fast as possible) for 0."""
    return [i / per_second if per_second > 0 else 0.0 for i in range(count)]


def pairs_schedule(pairs: int, every: float) -> list[float]:
    """Two commits 0.5 … 9.5 ms apart (a use case and its follow-up), one pair every `every` seconds."""
    return [p * every + k * ((p % 10) + 0.5) / 1000 for p in range(pairs) for k in range(2)]


def bench_e2e(
    db_url: str, url: str, schedule: list[float], batch: int, poll: float, limit: float
) -> tuple[list[float | None], float]:
    """Commits one event per transaction at the offsets of `schedule` from this thread while a
    relay runs on a background loop, woken by the commit hook as in a service. Returns each
    commit's commit → published latency in ms (None if not published) and the committing time.
    Uses its own Database handle: commit hooks cannot be removed, and a hook of a relay whose loop
    is closed raises out of UnitOfWork.commit()."""
    db = Database(db_url, SERVICE)
    try:
        return _e2e(db, url, schedule, batch, poll, limit)
    finally:
        db.dispose()


def _e2e(
    db: Database, url: str, schedule: list[float], batch: int, poll: float, limit: float
) -> tuple[list[float | None], float]:
    loop = BackgroundLoop("bench-e2e")
    bus = EventBus(url, "bench-e2e")
    relay = OutboxRelay(db, bus, batch_size=batch, poll_seconds=poll)
    committed: list[tuple[str, datetime]] = []
    stamps: list[datetime] = []
    # Registered before relay.wake: stamps the instant the commit returned, before the relay is woken.
    db.on_events_committed(lambda: stamps.append(datetime.now(UTC)))
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
        time.sleep(min(poll, 1.0))  # let the relay go idle first
        started = time.perf_counter()
        deadline = started + limit
        for i, offset in enumerate(schedule):
            now = time.perf_counter()
            if now > deadline:
                break
            if started + offset > now:
                time.sleep(started + offset - now)
            with db.uow() as uow:
                event_id = uow.add_event(client_created(i))
                uow.commit()
            committed.append((event_id, stamps.pop()))
        commit_seconds = time.perf_counter() - started
        drain_deadline = time.perf_counter() + max(poll, 0.1) * 4 + 5
        while pending_rows(db) and time.perf_counter() < drain_deadline:
            time.sleep(0.02)
    finally:
        if stop_holder:
            loop.call_soon(stop_holder[0].set)
        try:
            loop.submit(bus.close()).result(5)
            task.result(5)
        finally:
            loop.stop()
    with db.read() as s:
        published = dict(
            s.execute(
                select(outbox_events.c.event_id, outbox_events.c.published_at).where(
                    outbox_events.c.event_id.in_([e for e, _t in committed])
                )
            ).all()
        )
    latencies: list[float | None] = []
    for event_id, committed_at in committed:
        published_at = published.get(event_id)
        if published_at is None:
            latencies.append(None)
            continue
        if published_at.tzinfo is None:  # SQLite hands back naive UTC datetimes
            published_at = published_at.replace(tzinfo=UTC)
        latencies.append((published_at - committed_at).total_seconds() * 1000)
    return latencies, commit_seconds


def describe(latencies: list[float | None]) -> str:
    done = [x for x in latencies if x is not None]
    if not done:
        return "nothing published"
    return (
        f"p50 {percentile(done, 50):.1f} ms, p99 {percentile(done, 99):.1f} ms, max {max(done):.1f} ms"
        f" ({len(done)} of {len(latencies)} published)"
    )


# --- driver -----------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_backend(label: str, db_url: str, nats_url: str, args: argparse.Namespace) -> None:
    db = Database(db_url, SERVICE)
    try:
        run_migrations(db, "crm_contacts:migrations")
        raws: list[float] = []
        relays: list[float] = []
        stage_rates: list[float] = []
        for r in range(1, args.rounds + 1):
            raw = asyncio.run(bench_raw(nats_url, args.events, args.batch_size, args.time_limit))
            staged = stage_backlog(db, args.events, args.stage_chunk, args.time_limit)
            relay = asyncio.run(
                bench_relay(db, nats_url, staged.count, args.batch_size, args.poll_seconds, args.time_limit)
            )
            raws.append(raw.per_second)
            relays.append(relay.per_second)
            stage_rates.append(staged.per_second)
            print(
                f"[{label}] round {r}: (a) raw {raw.count} in {raw.seconds:.2f} s = {raw.per_second:,.0f}/s;"
                f" (b) relay {relay.count} in {relay.seconds:.2f} s = {relay.per_second:,.0f}/s"
                f" ({relay.per_second / raw.per_second:.0%}); staging {staged.per_second:,.0f}/s"
            )
        raw_median, relay_median = median(raws), median(relays)
        ratio = relay_median / raw_median
        print(
            f"[{label}] (a) raw nats-py publish_async, {args.batch_size} acks in flight:"
            f" {raw_median:,.0f} events/s (median of {args.rounds})"
        )
        print(
            f"[{label}] (b) outbox relay, staged backlog → JetStream acks, batch {args.batch_size}:"
            f" {relay_median:,.0f} events/s (median of {args.rounds})"
        )
        print(f"[{label}] relay / raw = {ratio:.0%}   target ≥ 50 %: {'OK' if ratio >= 0.5 else 'BELOW TARGET'}")
        print(
            f"[{label}]     (staging via UnitOfWork.add_event, {args.stage_chunk} per transaction, not a target:"
            f" {median(stage_rates):,.0f} events/s)"
        )
        if args.e2e_events:
            schedule = paced_schedule(args.e2e_events, args.e2e_rate)
            lat, seconds = bench_e2e(db_url, nats_url, schedule, args.batch_size, args.poll_seconds, args.time_limit)
            pace = f"paced {args.e2e_rate:g}/s" if args.e2e_rate > 0 else "flat out"
            slow = [i for i, x in enumerate(lat) if x is None or x >= args.poll_seconds * 1000 / 2]
            where = f" (commits #{slow[0] + 1}…#{slow[-1] + 1})" if slow else ""
            print(
                f"[{label}] (c) e2e commit → publish, {len(lat)} one-event commits {pace}"
                f" (achieved {rate(len(lat), seconds):,.0f}/s): {describe(lat)};"
                f" {len(slow)} waited ≥ half the idle poll{where}"
            )
        if args.wake_probe:
            every = args.poll_seconds + 0.3
            schedule = pairs_schedule(args.wake_probe, every)
            lat, _seconds = bench_e2e(db_url, nats_url, schedule, args.batch_size, args.poll_seconds, args.time_limit)
            second = lat[1::2]
            slow = sum(1 for x in second if x is None or x >= args.poll_seconds * 1000 / 2)
            print(
                f"[{label}] (d) wake probe, {args.wake_probe} pairs of commits 0.5-9.5 ms apart, {every:g} s between"
                f" pairs: 1st {describe(lat[0::2])}; 2nd {describe(second)};"
                f" {slow} of {len(second)} 2nd commits waited ≥ half the {args.poll_seconds:g} s idle poll"
            )
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def before(nats_url: str) -> None:
        print(
            f"nats-server {nats_url}; {args.events} events per measurement, batch {args.batch_size},"
            f" {args.rounds} round(s)"
        )

    return run_on_backends(args, "outbox", "contacts.db", before, run_backend)


if __name__ == "__main__":
    sys.exit(main())
