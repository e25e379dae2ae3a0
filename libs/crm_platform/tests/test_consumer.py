"""Idempotent durable consumers against a real nats-server: an event delivered twice (a redelivery
after a crash before the ack, or a republish after the dedupe window) changes state once; a
failing event is retried and then dead-lettered; nothing is acknowledged before the commit."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, insert, select

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, UnitOfWork, run_migrations
from crm_platform.eventbus import MSG_ID_HEADER, EventBus, stream_name, stream_subjects, subject_for
from crm_platform.nats_server import NatsServer
from crm_platform.tables import dead_letter_events, processed_events

seen_clients = sa.Table(
    "test_seen_clients",
    sa.MetaData(),
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(36), nullable=False),
)


def _consumer_db(url: str) -> Database:
    db = Database(url, "reporting")
    run_migrations(db, "crm_reporting:migrations")
    seen_clients.metadata.create_all(db.engine)
    return db


def _count(db: Database, table: sa.Table) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _record(uow: UnitOfWork, event: events_pb2.ClientCreated) -> None:
    uow.session.execute(insert(seen_clients).values(client_id=event.client.id))


def _event(client_id: str) -> tuple[str, bytes]:
    event_id = str(uuid.uuid4())
    msg = events_pb2.ClientCreated(client=contacts_pb2.Client(id=client_id, name="Acme"))
    msg.meta.event_id = event_id
    return event_id, msg.SerializeToString()


async def _publish(bus: EventBus, event_id: str, data: bytes) -> None:
    assert bus.js is not None
    await bus.js.publish(subject_for(events_pb2.ClientCreated), data, headers={MSG_ID_HEADER: event_id})


async def _bus(url: str, window: float = 120.0) -> EventBus:
    bus = EventBus(url, "test")
    await bus.connect()
    assert bus.js is not None
    from nats.js.api import StreamConfig

    await bus.js.add_stream(
        StreamConfig(name=stream_name("contacts"), subjects=[stream_subjects("contacts")], duplicate_window=window)
    )
    return bus


async def _run_until(consumer: EventConsumer, bus: EventBus, done: Callable[[], bool], seconds: float = 15) -> None:
    """Runs the consumer until `done()` holds (or the deadline passes), then stops it cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(bus, stop))
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.05)
    stop.set()
    await task


async def _republish_after_window(bus: EventBus, event_id: str, data: bytes, seconds: float = 5) -> None:
    """Publishes the same event again as soon as the stream stops deduplicating it."""
    assert bus.js is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ack = await bus.js.publish(subject_for(events_pb2.ClientCreated), data, headers={MSG_ID_HEADER: event_id})
        if not ack.duplicate:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the stream kept deduplicating past its window")


def test_redelivery_after_a_crash_before_ack_changes_state_once(database_url: str, tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    db = _consumer_db(database_url)
    consumer = EventConsumer(db, "clients", "contacts").on(events_pb2.ClientCreated, _record)

    async def scenario() -> None:
        bus = await _bus(server.url)
        event_id, data = _event("c-1")
        await _publish(bus, event_id, data)
        assert bus.js is not None
        sub = await bus.js.pull_subscribe(stream_subjects("contacts"), durable=consumer.name)
        first = await sub.fetch(1, timeout=5)
        # The handler commits, then the process "crashes" before acking: NATS delivers again.
        outcomes = await asyncio.to_thread(consumer.process_batch, _deliveries(first))
        assert outcomes == [("processed", 1)]
        await first[0].nak()
        second = await sub.fetch(1, timeout=5)
        assert second[0].metadata.num_delivered == 2
        await consumer.handle_messages(second)
        for _ in range(100):  # the ack is asynchronous: wait for the server to see it
            info = await sub.consumer_info()
            if info.num_ack_pending == 0:
                break
            await asyncio.sleep(0.02)
        assert info.num_ack_pending == 0 and info.num_pending == 0
        await bus.close()

    try:
        asyncio.run(scenario())
        assert _count(db, seen_clients) == 1
        assert _count(db, processed_events) == 1
    finally:
        server.stop()
        db.dispose()


def test_a_republish_after_the_dedupe_window_is_handled_once(sqlite_url: str, tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    db = _consumer_db(sqlite_url)
    consumer = EventConsumer(db, "clients", "contacts", fetch_timeout=0.2).on(events_pb2.ClientCreated, _record)

    async def scenario() -> None:
        bus = await _bus(server.url, window=0.1)
        event_id, data = _event("c-2")
        other_id, other = _event("c-3")
        await _publish(bus, event_id, data)
        await _republish_after_window(bus, event_id, data)
        await _publish(bus, other_id, other)
        assert bus.js is not None
        assert (await bus.js.stream_info(stream_name("contacts"))).state.messages == 3
        await _run_until(consumer, bus, lambda: _count(db, processed_events) == 2)
        await bus.close()

    try:
        asyncio.run(scenario())
        with db.read() as s:
            assert sorted(s.scalars(select(seen_clients.c.client_id))) == ["c-2", "c-3"]
    finally:
        server.stop()
        db.dispose()


def test_a_failing_event_is_retried_then_dead_lettered_without_blocking_others(sqlite_url: str, tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats").start()
    db = _consumer_db(sqlite_url)
    calls: list[str] = []

    def flaky(uow: UnitOfWork, event: events_pb2.ClientCreated) -> None:
        calls.append(event.client.id)
        if event.client.id == "poison":
            raise ValueError("cannot handle this one")
        _record(uow, event)

    consumer = EventConsumer(db, "clients", "contacts", max_deliver=3, fetch_timeout=0.2).on(
        events_pb2.ClientCreated, flaky
    )

    async def scenario() -> None:
        bus = await _bus(server.url)
        for cid in ("good-1", "poison", "good-2"):
            await _publish(bus, *_event(cid))
        await _run_until(consumer, bus, lambda: _count(db, dead_letter_events) == 1)
        await bus.close()

    try:
        asyncio.run(scenario())
        assert "poison" in calls
        with db.read() as s:
            assert sorted(s.scalars(select(seen_clients.c.client_id))) == ["good-1", "good-2"]
            dead = s.execute(select(dead_letter_events)).one()
        assert dead.deliveries == 3 and "cannot handle this one" in dead.error
    finally:
        server.stop()
        db.dispose()


def _deliveries(msgs: list) -> list:  # type: ignore[type-arg]
    from crm_platform.consumer import _Delivery

    return [_Delivery(m.subject, m.headers[MSG_ID_HEADER], m.data, m.metadata.num_delivered) for m in msgs]


def test_batch_handlers_get_consecutive_events_and_duplicates_in_a_batch_count_once(sqlite_url: str) -> None:
    from crm_platform.consumer import _Delivery

    db = _consumer_db(sqlite_url)
    calls: list[list[str]] = []

    def many(uow: UnitOfWork, events: list[events_pb2.ClientCreated]) -> None:
        calls.append([e.client.id for e in events])
        uow.session.execute(insert(seen_clients), [{"client_id": e.client.id} for e in events])

    def updated(uow: UnitOfWork, event: events_pb2.ClientUpdated) -> None:
        calls.append([f"updated:{event.client.id}"])

    consumer = (
        EventConsumer(db, "clients", "contacts")
        .on_batch(events_pb2.ClientCreated, many)
        .on(events_pb2.ClientUpdated, updated)
    )
    created = [_event(f"c{i}") for i in range(3)]
    upd = events_pb2.ClientUpdated(client=contacts_pb2.Client(id="c0"))
    upd.meta.event_id = str(uuid.uuid4())
    batch = [
        _Delivery("crm.contacts.v1.client_created", created[0][0], created[0][1], 1),
        _Delivery("crm.contacts.v1.client_created", created[1][0], created[1][1], 1),
        _Delivery("crm.contacts.v1.client_created", created[0][0], created[0][1], 1),  # same event again
        _Delivery("crm.contacts.v1.client_updated", upd.meta.event_id, upd.SerializeToString(), 1),
        _Delivery("crm.contacts.v1.client_created", created[2][0], created[2][1], 1),
        _Delivery("crm.contacts.v1.client_archived", str(uuid.uuid4()), b"", 1),  # no handler
    ]
    try:
        outcomes = [o for o, _ in consumer.process_batch(batch)]
        assert outcomes == ["processed", "processed", "duplicate", "processed", "processed", "ignored"]
        assert calls == [["c0", "c1"], ["updated:c0"], ["c2"]]  # runs in order; the copy skipped
        again = [o for o, _ in consumer.process_batch(batch)]
        assert again == ["duplicate"] * 6
        assert _count(db, seen_clients) == 3 and _count(db, processed_events) == 5
    finally:
        db.dispose()


def test_an_event_on_a_subject_outside_the_streams_service_is_refused_and_counted(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A stream misconfigured to hold another service's subjects (here CRM_CONTACTS also taking
    crm.identity.v1.>), read through a durable made beforehand without the subject filter (the
    consumer binds to an existing durable as it is), must not feed a forged identity event: the
    consumer terminates it unread (never redelivered), counts it, and handles the stream's own
    events as usual."""
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

    from crm.identity.v1 import events_pb2 as identity_events
    from crm.identity.v1 import identity_pb2
    from crm_platform.metrics import EVENTS_REFUSED

    server = NatsServer(tmp_path / "nats").start()
    db = _consumer_db(sqlite_url)
    consumer = EventConsumer(db, "clients", "contacts").on(events_pb2.ClientCreated, _record)
    refused = EVENTS_REFUSED.labels("reporting", consumer.name)
    before = refused._value.get()
    forged = identity_events.UserUpdated(user=identity_pb2.User(id="rep-1", role=identity_pb2.ROLE_ADMIN))
    forged.meta.event_id = str(uuid.uuid4())

    async def scenario() -> None:
        bus = EventBus(server.url, "test")
        await bus.connect()
        assert bus.js is not None
        await bus.js.add_stream(
            StreamConfig(name=stream_name("contacts"), subjects=[stream_subjects("contacts"), "crm.identity.v1.>"])
        )
        await bus.js.publish(
            subject_for(identity_events.UserUpdated),
            forged.SerializeToString(),
            headers={MSG_ID_HEADER: forged.meta.event_id},
        )
        event_id, data = _event("c-after-the-forgery")
        await _publish(bus, event_id, data)
        await bus.js.add_consumer(
            stream_name("contacts"), ConsumerConfig(durable_name=consumer.name, ack_policy=AckPolicy.EXPLICIT)
        )
        await _run_until(consumer, bus, lambda: _count(db, seen_clients) == 1)
        info = await bus.js.consumer_info(stream_name("contacts"), consumer.name)
        # Both settled: the forged one terminated (not pending, not waiting for an ack).
        assert info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0
        await bus.close()

    try:
        asyncio.run(scenario())
        assert refused._value.get() == before + 1
        assert _count(db, seen_clients) == 1
        with db.read() as s:
            ids = set(s.scalars(select(processed_events.c.event_id)))
        assert forged.meta.event_id not in ids and len(ids) == 1
    finally:
        server.stop()
        db.dispose()
