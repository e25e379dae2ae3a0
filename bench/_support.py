"""Helpers shared by the benchmarks in this folder (not a benchmark itself): sample events,
percentiles, throughput. A scratch PostgreSQL database comes from crm_platform.testing."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.eventbus import EVENT_TYPE_HEADER, MSG_ID_HEADER, subject_for
from crm_platform.ids import new_id
from crm_platform.nats_server import NatsServer
from crm_platform.testing import scratch_postgres


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


@dataclass
class Throughput:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return rate(self.count, self.seconds)


def run_on_backends(
    args: Any,
    prefix: str,
    db_file: str,
    before: Callable[[str], None],
    run_backend: Callable[[str, str, str, Any], None],
) -> int:
    """The frame of a benchmark: a nats-server of its own in a temporary folder, `before(nats_url)`
    (a header, pre-filling), then `run_backend(label, db_url, nats_url, args)` on an SQLite file
    and, with --postgres-url, on a scratch PostgreSQL database dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"crm-bench-{prefix}-") as tmp:
        tmp_path = Path(tmp)
        server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log").start()
        try:
            before(server.url)
            run_backend("sqlite", f"sqlite:///{tmp_path / db_file}", server.url, args)
            if args.postgres_url:
                with scratch_postgres(args.postgres_url, f"crm_bench_{prefix}") as pg_url:
                    run_backend("postgresql", pg_url, server.url, args)
        finally:
            server.stop()
    return 0
