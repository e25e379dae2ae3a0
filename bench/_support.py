"""Helpers shared by the benchmarks in this folder (not a benchmark itself): sample events,
percentiles, and a scratch PostgreSQL database that is dropped afterwards."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.eventbus import EVENT_TYPE_HEADER, MSG_ID_HEADER, subject_for
from crm_platform.ids import new_id

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def client_created(i: int) -> events_pb2.ClientCreated:
    """A realistic small event (≈ 150 bytes serialized once its meta is filled)."""
    client_id = new_id()
    return events_pb2.ClientCreated(
        client=contacts_pb2.Client(
            id=client_id,
            name=f"Bench client {i:06d}",
            legal_name=f"Bench Client {i:06d} SAS",
            email=f"client{i}@example.test",
            owner_id="00000000-0000-7000-8000-000000000001",
        )
    )


def published_form(i: int) -> tuple[str, bytes, dict[str, str]]:
    """(subject, payload, headers) of event i as the outbox relay publishes it: meta filled as
    stage_event fills it, Nats-Msg-Id = event id, the event type header."""
    message = client_created(i)
    event_id = new_id()
    meta = message.meta
    meta.event_id = event_id
    meta.occurred_at.FromDatetime(datetime.now(UTC))
    meta.producer = "contacts"
    headers = {MSG_ID_HEADER: event_id, EVENT_TYPE_HEADER: message.DESCRIPTOR.full_name}
    return subject_for(message), message.SerializeToString(), headers


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def check_loopback_postgres(url: str) -> None:
    host = make_url(url).host or "127.0.0.1"
    if host not in LOOPBACK:
        raise SystemExit(f"--postgres-url must point at 127.0.0.1 (got host {host!r})")


@contextmanager
def scratch_postgres(url: str, prefix: str) -> Iterator[str]:
    """Creates a fresh database on the server named by `url` and yields its URL; drops it after."""
    check_loopback_postgres(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
