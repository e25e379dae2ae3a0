"""Helpers for the tests and benchmarks of every service (not used at run time): a scratch
PostgreSQL database, a nats-server with the platform's per-user permissions, and waiting for an
event to appear on a service's stream (or publishing one as its producer would)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm_platform.config import SERVICES
from crm_platform.eventbus import MSG_ID_HEADER, EventBus, service_of, stream_name, stream_subjects, subject_for
from crm_platform.nats_auth import CONSUMES, NatsCredentials, generate
from crm_platform.nats_server import NatsServer

E = TypeVar("E", bound=Message)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# The tests' own NATS user: reads every stream (to look for an event), publishes nothing.
TEST_READER = "tests"
TEST_CONSUMES = {**CONSUMES, TEST_READER: tuple(SERVICES)}
# Servers started by secured_nats_server, by URL: helpers given only a URL find their keys here.
_secured: dict[str, NatsServer] = {}


def secured_nats_server(store_dir: Path, port: int | None = None) -> NatsServer:
    """A started nats-server with the generated configuration: every process and test helper must
    sign in with its own user's nkey, and may do only what nats_auth allows that user."""
    users = tuple(TEST_CONSUMES)
    server = NatsServer(store_dir, port, credentials=generate(users), consumes=TEST_CONSUMES).start()
    _secured[server.url] = server
    return server


_known: dict[str, dict[str, NatsCredentials]] = {}


def remember_nats_credentials(nats_url: str, credentials: dict[str, NatsCredentials]) -> None:
    """Keys the test gave a server it did not start here (the end-to-end tests hand them to `crm up`)."""
    _known[nats_url] = dict(credentials)


def nats_credentials(nats_url: str, user: str) -> NatsCredentials | None:
    """`user`'s keys on a server started by secured_nats_server or remembered (None for a server
    without authorization, as the event bus's own tests and the benchmarks run)."""
    server = _secured.get(nats_url)
    known = server.credentials if server is not None else _known.get(nats_url)
    return known.get(user) if known else None


def _reader(nats_url: str, service: str) -> NatsCredentials | None:
    """A user that may read `service`'s stream: the tests' own reader where the server has it,
    else a process that consumes that stream (the tests read `crm up`'s streams as one)."""
    readers = [TEST_READER] + [u for u, sources in CONSUMES.items() if service in sources]
    for user in readers:
        creds = nats_credentials(nats_url, user)
        if creds is not None:
            return creds
    return None


@contextmanager
def scratch_postgres(url: str, prefix: str = "crm_test") -> Iterator[str]:
    """Creates a fresh database on the (loopback) server named by `url`, yields its URL, drops it."""
    host = make_url(url).host or "127.0.0.1"
    if host not in LOOPBACK:
        raise ValueError(f"tests and benchmarks use a PostgreSQL on 127.0.0.1 only (got host {host!r})")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_for_event(nats_url: str, event_class: type[E], match: Callable[[E], bool], timeout: float = 20.0) -> E:
    """Reads the producing service's stream from the start until an event of that type matches;
    checks on the way that its Nats-Msg-Id header is its event id."""

    async def read() -> E:
        service = service_of(event_class)
        bus = EventBus(nats_url, "test-reader", _reader(nats_url, service))
        await bus.connect()
        assert bus.js is not None
        sub = await bus.js.pull_subscribe(stream_subjects(service), stream=stream_name(service))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    msgs = await sub.fetch(50, timeout=0.5)
                except TimeoutError:
                    continue
                for msg in msgs:
                    await msg.ack()
                    if msg.subject != subject_for(event_class):
                        continue
                    event: E = event_class.FromString(msg.data)
                    assert msg.headers is not None and msg.headers[MSG_ID_HEADER] == event.meta.event_id
                    if match(event):
                        return event
            raise AssertionError(f"no matching {event_class.DESCRIPTOR.name} on {stream_name(service)} in {timeout}s")
        finally:
            await sub.unsubscribe()
            await bus.close()

    return asyncio.run(read())


def publish_events(nats_url: str, events: list[Message]) -> None:
    """Publishes events on their producer's stream as its outbox relay would (Nats-Msg-Id = the
    event id), creating the stream if needed: tests of a consumer stand in for the producer, with
    the producer's own NATS user."""

    async def send() -> None:
        buses: dict[str, EventBus] = {}
        try:
            for event in events:
                producer = service_of(event)
                bus = buses.get(producer)
                if bus is None:
                    bus = EventBus(nats_url, f"test-publisher-{producer}", nats_credentials(nats_url, producer))
                    buses[producer] = bus
                    await bus.connect()
                    await bus.ensure_stream(producer)
                assert bus.js is not None
                await bus.js.publish(
                    subject_for(event),
                    event.SerializeToString(),
                    headers={MSG_ID_HEADER: event.meta.event_id},
                )
        finally:
            for bus in buses.values():
                await bus.close()

    asyncio.run(send())
