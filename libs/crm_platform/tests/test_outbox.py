"""The transactional outbox against a real nats-server and real databases: events survive a NATS
outage and arrive once when it is back; a rolled-back transaction publishes nothing; a relay
that publishes a row again (crash before marking it) does not duplicate it in the stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import EventBus, stream_name
from crm_platform.nats_server import NatsServer
from crm_platform.outbox import OutboxRelay
from crm_platform.tables import outbox_events


def _event(name: str) -> events_pb2.ClientCreated:
    return events_pb2.ClientCreated(client=contacts_pb2.Client(id=name, name=name))


def _stage(db: Database, names: list[str]) -> list[str]:
    with db.uow() as uow:
        ids = [uow.add_event(_event(n)) for n in names]
        uow.commit()
    return ids


def _wait(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _stream_event_ids(url: str, service: str = "contacts") -> list[str]:
    bus = EventBus(url, "test-reader")
    await bus.connect()
    assert bus.js is not None
    info = await bus.js.stream_info(stream_name(service))
    ids: list[str] = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(stream_name(service), seq)
        parsed = events_pb2.ClientCreated.FromString(msg.data)
        assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == parsed.meta.event_id
        ids.append(parsed.meta.event_id)
    await bus.close()
    return ids


class RelayHarness:
    """Runs an OutboxRelay on its own event loop thread, as a service does."""

    def __init__(self, db: Database, url: str):
        from crm_platform.eventbus import BackgroundLoop

        self.loop = BackgroundLoop("test-relay")
        self.bus = EventBus(url, "test-relay")
        self.relay = OutboxRelay(db, self.bus, poll_seconds=0.05, max_backoff=0.5)
        db.on_events_committed(self.relay.wake)
        self.stop_event: asyncio.Event | None = None

        async def _main() -> None:
            self.stop_event = asyncio.Event()
            await self.bus.connect(max_backoff=0.5)
            await self.bus.ensure_stream("contacts")
            await self.relay.run(self.stop_event)

        self.task = self.loop.submit(_main())

    def close(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon(self.stop_event.set)
        self.loop.submit(self.bus.close()).result(5)
        self.loop.stop()


def _pending(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).where(outbox_events.c.published_at.is_(None))) or 0)


def _db(url: str) -> Database:
    db = Database(url, "contacts")
    run_migrations(db, "crm_contacts:migrations")
    return db


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own (these tests stop and restart it)."""
    nats = NatsServer(tmp_path / "nats").start()
    yield nats
    nats.stop()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = _db(database_url)
    yield database
    database.dispose()


@pytest.fixture
def relays(db: Database, server: NatsServer) -> Iterator[Callable[[], RelayHarness]]:
    """Starts relays on the test's database and server; closes them after the test."""
    started: list[RelayHarness] = []

    def start() -> RelayHarness:
        started.append(RelayHarness(db, server.url))
        return started[-1]

    yield start
    for harness in started:
        harness.close()


def test_events_written_during_a_nats_outage_arrive_once_when_it_is_back(
    db: Database, server: NatsServer, relays: Callable[[], RelayHarness]
) -> None:
    harness = relays()
    first = _stage(db, ["before-1", "before-2"])
    _wait(lambda: _pending(db) == 0, what="first events published")

    server.stop()
    during = _stage(db, [f"during-{i}" for i in range(300)])  # writes succeed with NATS down
    failures = harness.relay.failed_batches
    _wait(lambda: harness.relay.failed_batches >= failures + 2, what="the relay to fail while NATS is down")
    assert _pending(db) == 300

    server.start()
    _wait(lambda: _pending(db) == 0, timeout=30, what="backlog drained after NATS came back")
    ids = asyncio.run(_stream_event_ids(server.url))
    assert sorted(ids) == sorted(first + during)
    assert len(ids) == len(set(ids)) == 302


def test_a_rolled_back_transaction_publishes_nothing(
    db: Database, server: NatsServer, relays: Callable[[], RelayHarness]
) -> None:
    relays()
    with db.uow() as uow:
        uow.add_event(_event("rolled-back"))
        # no commit: leaving the block rolls back
    with pytest.raises(RuntimeError), db.uow() as uow:
        uow.add_event(_event("failed-midway"))
        raise RuntimeError("the use case failed after staging its event")
    kept = _stage(db, ["committed"])
    _wait(lambda: _pending(db) == 0, what="committed event published")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(outbox_events)) == 1
    assert asyncio.run(_stream_event_ids(server.url)) == kept


def test_republishing_a_row_is_deduplicated_by_jetstream(
    db: Database, server: NatsServer, relays: Callable[[], RelayHarness]
) -> None:
    harness = relays()
    ids = _stage(db, ["a", "b", "c"])
    _wait(lambda: _pending(db) == 0, what="published")
    # A relay that crashed after publishing but before marking the rows sends them again.
    with db.uow() as uow:
        uow.session.execute(update(outbox_events).values(published_at=None, next_attempt_at=None))
        uow.commit()
    harness.relay.wake()
    _wait(lambda: _pending(db) == 0, what="republished")
    assert asyncio.run(_stream_event_ids(server.url)) == ids


def test_several_relays_share_one_postgresql_database_without_publishing_twice(
    db: Database, server: NatsServer, relays: Callable[[], RelayHarness]
) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite runs one relay per database")
    started = [relays() for _ in range(3)]
    with db.uow() as uow:
        ids = uow.add_events([_event(f"bulk-{i}") for i in range(3000)])
        uow.commit()
    _wait(lambda: _pending(db) == 0, timeout=60, what="backlog drained by three relays")
    assert sum(h.relay.published_total for h in started) == 3000  # each row claimed by one relay
    assert sorted(asyncio.run(_stream_event_ids(server.url))) == sorted(ids)
