"""Idempotent consumer throughput against a bare durable pull consumer, measured in the same run.

On a fresh nats-server (own temp store), the contacts stream is pre-filled with N ClientCreated
events (publish_async, many acks in flight, Nats-Msg-Id = event id as the outbox relay sends them);
then, --rounds times, interleaved, each round with new durable consumers reading the whole stream:
  (a) bare: a durable pull consumer fetching --batch-size at a time and acking each message;
  (b) platform: crm_platform.consumer.EventConsumer through its real run() → handle_messages() →
      process_batch() path, with a trivial handler inserting one row per event into a small table
      (Core, same transaction, savepoint per event, processed_events row per event), in a fresh
      SQLite file (and a scratch PostgreSQL database with --postgres-url); timed until all N are
      processed and acked.
Medians and their ratio are printed (target: (b) ≥ 50 % of (a))."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

import nats.errors
from _support import Throughput, published_form, run_on_backends
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from crm.contacts.v1 import events_pb2
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, UnitOfWork, run_migrations
from crm_platform.eventbus import EventBus, stream_name, stream_subjects
from crm_platform.metrics import EVENTS_CONSUMED
from crm_platform.tables import processed_events

SOURCE = "contacts"
CONSUMING_SERVICE = "reporting"  # the database the platform consumer writes to

bench_metadata = MetaData()
bench_clients = Table(
    "bench_clients",
    bench_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20_000, help="events in the stream (default 20000)")
    p.add_argument("--batch-size", type=int, default=256, help="fetch size of both consumers (default 256)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (a)+(b), medians reported (default 3)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds allowed per measurement (default 60)")
    p.add_argument(
        "--postgres-url",
        default="",
        help="also run the rounds on a scratch database of this server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (created and dropped)",
    )
    args = p.parse_args(argv)
    if args.events < 1 or args.batch_size < 1 or args.rounds < 1:
        p.error("counts must be positive")
    return args


def consumer_config() -> ConsumerConfig:
    """The configuration EventConsumer.run() gives its durable consumer."""
    return ConsumerConfig(
        ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=30, max_ack_pending=10_000
    )


async def prefill(url: str, n: int, limit: float) -> Throughput:
    forms = [published_form(i) for i in range(n)]
    bus = EventBus(url, "bench-prefill")
    await bus.connect()
    await bus.ensure_stream(SOURCE)
    assert bus.js is not None
    js = bus.js
    window = 1_000
    sent = 0
    started = time.perf_counter()
    deadline = started + limit
    while sent < n and time.perf_counter() < deadline:
        futures = [
            await js.publish_async(subject, payload, headers=headers)
            for subject, payload, headers in forms[sent : sent + window]
        ]
        done, pending = await asyncio.wait(futures, timeout=10)
        if pending or any(f.exception() is not None for f in done):
            raise RuntimeError("prefill: an ack failed or timed out")
        sent += len(futures)
    elapsed = time.perf_counter() - started
    stored = (await js.stream_info(stream_name(SOURCE))).state.messages
    await bus.close()
    if stored != n:
        raise RuntimeError(f"prefill: {stored} of {n} events in the stream")
    return Throughput(sent, elapsed)


async def bench_bare(url: str, durable: str, n: int, batch: int, limit: float) -> Throughput:
    bus = EventBus(url, "bench-bare")
    await bus.connect()
    assert bus.js is not None and bus.nc is not None
    acked = 0
    started = time.perf_counter()
    deadline = started + limit
    sub = await bus.js.pull_subscribe(
        stream_subjects(SOURCE), durable=durable, stream=stream_name(SOURCE), config=consumer_config()
    )
    while acked < n and time.perf_counter() < deadline:
        try:
            msgs = await sub.fetch(batch, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        for m in msgs:
            await m.ack()
        acked += len(msgs)
    await bus.nc.flush()
    elapsed = time.perf_counter() - started
    await bus.close()
    return Throughput(acked, elapsed)


INSERT_CLIENT = insert(bench_clients)  # built once: the handler only binds parameters


def insert_client(uow: UnitOfWork, event: Any) -> None:
    """The trivial handler: one row per event, in the consumer's transaction."""
    uow.session.execute(INSERT_CLIENT, {"client_id": event.client.id, "name": event.client.name})


def insert_clients(uow: UnitOfWork, events: list[Any]) -> None:
    """The same handler written for batches: one executemany for the consecutive events."""
    uow.session.execute(INSERT_CLIENT, [{"client_id": e.client.id, "name": e.client.name} for e in events])


def processed_metric(consumer: EventConsumer) -> float:
    """The consumer's crm_events_consumed_total{outcome="processed"}, read from that one metric
    (REGISTRY.get_sample_value would run every collector, /proc reads included, at each poll)."""
    wanted = {"service": CONSUMING_SERVICE, "consumer": consumer.name, "outcome": "processed"}
    for metric in EVENTS_CONSUMED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == wanted:
                return sample.value
    return 0.0


def no_write(uow: UnitOfWork, events: list[Any]) -> None:
    """Decodes the events (done by the consumer before calling) and writes nothing of its own."""


HANDLERS: dict[str, tuple[str, Any]] = {
    "one-row": ("on", insert_client),
    "batch": ("on_batch", insert_clients),
    "none": ("on_batch", no_write),
}


async def bench_platform(
    db: Database, url: str, name: str, n: int, batch: int, limit: float, handler: str = "one-row"
) -> Throughput:
    consumer = EventConsumer(db, name, SOURCE, batch_size=batch)
    method, fn = HANDLERS[handler]
    getattr(consumer, method)(events_pb2.ClientCreated, fn)
    bus = EventBus(url, "bench-consumer")
    await bus.connect()
    stop = asyncio.Event()
    base = processed_metric(consumer)
    started = time.perf_counter()
    deadline = started + limit
    task = asyncio.create_task(consumer.run(bus, stop))
    # The metric is incremented right after each message's ack, so it counts processed + acked.
    while processed_metric(consumer) - base < n and time.perf_counter() < deadline and not task.done():
        await asyncio.wait([task], timeout=0.005)  # returns at once if the consumer task died
    assert bus.nc is not None
    await bus.nc.flush()
    elapsed = time.perf_counter() - started
    done = int(processed_metric(consumer) - base)
    stop.set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await bus.close()
    with db.read() as s:
        recorded = s.scalar(
            select(func.count()).select_from(processed_events).where(processed_events.c.consumer == consumer.name)
        )
    if recorded != done:
        print(f"  ! {consumer.name}: {done} processed by the metric, {recorded} in processed_events", file=sys.stderr)
    return Throughput(done, elapsed)


def open_database(url: str) -> Database:
    db = Database(url, CONSUMING_SERVICE)
    run_migrations(db, "crm_contacts:migrations")  # creates the platform tables (processed_events...)
    bench_metadata.create_all(db.engine)
    return db


def run_backend(label: str, db_url: str, nats_url: str, args: argparse.Namespace) -> None:
    db = open_database(db_url)
    try:
        bares: list[float] = []
        platforms: list[float] = []
        batcheds: list[float] = []
        bookkeeping: list[float] = []
        for r in range(1, args.rounds + 1):
            bare = asyncio.run(
                bench_bare(nats_url, f"bench-bare-{label}-{r}", args.events, args.batch_size, args.time_limit)
            )
            platform = asyncio.run(
                bench_platform(db, nats_url, f"bench-{label}-{r}", args.events, args.batch_size, args.time_limit)
            )
            batched = asyncio.run(
                bench_platform(
                    db, nats_url, f"bench-batch-{label}-{r}", args.events, args.batch_size, args.time_limit, "batch"
                )
            )
            only = asyncio.run(
                bench_platform(
                    db, nats_url, f"bench-none-{label}-{r}", args.events, args.batch_size, args.time_limit, "none"
                )
            )
            bookkeeping.append(only.per_second)
            bares.append(bare.per_second)
            platforms.append(platform.per_second)
            batcheds.append(batched.per_second)
            print(
                f"[{label}] round {r}: (a) bare {bare.count} in {bare.seconds:.2f} s = {bare.per_second:,.0f}/s;"
                f" (b) EventConsumer {platform.count} in {platform.seconds:.2f} s = {platform.per_second:,.0f}/s"
                f" ({platform.per_second / bare.per_second:.0%});"
                f" (c) with a batch handler {batched.per_second:,.0f}/s ({batched.per_second / bare.per_second:.0%});"
                f" (d) with no handler writes {only.per_second:,.0f}/s ({only.per_second / bare.per_second:.0%})"
            )
        bare_median, platform_median = statistics.median(bares), statistics.median(platforms)
        batched_median = statistics.median(batcheds)
        ratio = platform_median / bare_median
        print(
            f"[{label}] (a) bare durable pull consumer, fetch {args.batch_size} + ack each:"
            f" {bare_median:,.0f} msgs/s (median of {args.rounds})"
        )
        print(
            f"[{label}] (b) EventConsumer + processed_events + one-row handler:"
            f" {platform_median:,.0f} msgs/s (median of {args.rounds})"
        )
        print(
            f"[{label}] EventConsumer / bare = {ratio:.0%}   target ≥ 50 %: {'OK' if ratio >= 0.5 else 'BELOW TARGET'}"
        )
        only_median = statistics.median(bookkeeping)
        only_ratio = only_median / bare_median
        print(
            f"[{label}] (d) EventConsumer + processed_events, handler writing nothing (the consumer's own cost):"
            f" {only_median:,.0f} msgs/s (median of {args.rounds}) = {only_ratio:.0%} of bare"
            f"   target ≥ 50 %: {'OK' if only_ratio >= 0.5 else 'BELOW TARGET'}"
        )
        batched_ratio = batched_median / bare_median
        print(
            f"[{label}] (c) EventConsumer + processed_events + on_batch handler (one executemany):"
            f" {batched_median:,.0f} msgs/s (median of {args.rounds}) = {batched_ratio:.0%} of bare"
            f"   target ≥ 50 %: {'OK' if batched_ratio >= 0.5 else 'BELOW TARGET'}"
        )
        with db.read() as s:
            rows = s.scalar(select(func.count()).select_from(bench_clients))
        expected = args.events * args.rounds * 2
        if rows != expected:
            print(f"  ! {rows} rows in bench_clients, expected {expected}", file=sys.stderr)
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def before(nats_url: str) -> None:
        filled = asyncio.run(prefill(nats_url, args.events, args.time_limit))
        print(
            f"nats-server {nats_url}; stream {stream_name(SOURCE)} pre-filled with {filled.count} events"
            f" in {filled.seconds:.2f} s ({filled.per_second:,.0f}/s, 1000 acks in flight);"
            f" fetch {args.batch_size}, {args.rounds} round(s)"
        )

    return run_on_backends(args, "consumer", "reporting.db", before, run_backend)


if __name__ == "__main__":
    sys.exit(main())
