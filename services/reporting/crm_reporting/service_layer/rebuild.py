"""Rebuilding the read models: empty them and replay every stream from its first message.

`rebuild(db, nats_url)` (the `crm rebuild-reports` verb, and the tests) deletes every read-model
row and the reporting consumers' processed-event ids in one transaction, then reads each stream
from sequence 1 up to its last message at that moment through an ephemeral pull consumer, handing
the messages to the very consumers the service runs (entrypoints/consumers.py): the same
projectors, the same processed-event table, the same batches. The service may keep running: its
durable consumers handle the events that arrive meanwhile, and since an event id is applied once
(processed_events) and a record only moves to a newer version, both paths end in the state of the
streams whatever the interleaving. While it runs, indicators and reports show partial figures.

Each rebuild is logged in rm_rebuilds (duration, events replayed): the service shows the last
one's duration on /metrics (crm_reporting_rebuild_duration_seconds)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import nats.errors
import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from crm_platform.db import Database
from crm_platform.eventbus import EventBus, stream_name, stream_subjects
from crm_platform.nats_auth import NatsCredentials
from crm_platform.tables import processed_events
from crm_reporting.adapters import tables as t
from crm_reporting.entrypoints.consumers import SOURCES, consumer_for

log = logging.getLogger(__name__)

FETCH = 1000


@dataclass(frozen=True)
class RebuildResult:
    events: dict[str, int]
    duration_seconds: float


def clear_read_models(db: Database) -> None:
    """Every read-model row and the reporting consumers' processed-event ids, in one transaction."""
    names = [consumer_for(db, source).name for source in SOURCES]
    with db.uow() as uow:
        for table in reversed(t.READ_MODELS):
            uow.session.execute(sa.delete(table))
        uow.session.execute(sa.delete(processed_events).where(processed_events.c.consumer.in_(names)))
        uow.commit()


async def _replay_stream(db: Database, bus: EventBus, source: str, deadline: float) -> int:
    assert bus.js is not None
    try:  # only its producer may create a stream: one not made yet has nothing to replay
        info = await bus.js.stream_info(stream_name(source))
    except NotFoundError:
        return 0
    last = info.state.last_seq
    if not info.state.messages:
        return 0
    consumer = consumer_for(db, source, batch_size=FETCH)
    sub = await bus.js.pull_subscribe(
        stream_subjects(source),
        stream=stream_name(source),
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=60.0,
            max_ack_pending=-1,
        ),
    )
    seen = 0
    try:
        while time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(FETCH, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                pending = await sub.consumer_info()
                if pending.num_pending == 0 and pending.num_ack_pending == 0:
                    break
                continue
            await consumer.handle_messages(msgs)
            seen += len(msgs)
            if msgs[-1].metadata.sequence.stream >= last:
                break
        else:
            raise TimeoutError(f"rebuild: stream {stream_name(source)} not replayed in time")
    finally:
        await sub.unsubscribe()
    log.info("rebuild: %s replayed (%d messages)", stream_name(source), seen)
    return seen


async def _replay(db: Database, nats_url: str, seconds: float, credentials: NatsCredentials | None) -> dict[str, int]:
    """Connects to NATS first (an unreachable NATS leaves the read models as they are), then
    empties them and replays every stream."""
    bus = EventBus(nats_url, "crm-reporting-rebuild", credentials)
    try:
        await asyncio.wait_for(bus.connect(), timeout=min(seconds, 30.0))
        deadline = time.monotonic() + seconds
        await asyncio.to_thread(clear_read_models, db)
        return {source: await _replay_stream(db, bus, source, deadline) for source in SOURCES}
    finally:
        await bus.close()


def rebuild(
    db: Database, nats_url: str, *, timeout: float = 3600.0, credentials: NatsCredentials | None = None
) -> RebuildResult:
    """Empties the read models and replays every stream; logs the run in rm_rebuilds.
    `credentials`: the reporting service's NATS user (it may read every stream it projects)."""
    started_at, started = datetime.now(UTC), time.monotonic()
    with db.uow() as uow:
        run_id: int = uow.session.execute(
            sa.insert(t.rm_rebuilds).values(started_at=started_at).returning(t.rm_rebuilds.c.id)
        ).scalar_one()
        uow.commit()
    events = asyncio.run(_replay(db, nats_url, timeout, credentials))
    duration = time.monotonic() - started
    with db.uow() as uow:
        uow.session.execute(
            sa.update(t.rm_rebuilds)
            .where(t.rm_rebuilds.c.id == run_id)
            .values(finished_at=datetime.now(UTC), duration_seconds=duration, events_replayed=sum(events.values()))
        )
        uow.commit()
    return RebuildResult(events, duration)
