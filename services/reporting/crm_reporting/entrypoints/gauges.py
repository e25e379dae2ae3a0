"""The reporting service's business gauges on /metrics, refreshed from its database by a
background task (so they are right after a restart and whoever ran the rebuild): events applied
per stream, the age of the newest event applied, and the duration of the last rebuild. Consumer
lag per durable consumer is the platform's crm_consumer_lag (crm_platform.consumer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from prometheus_client import Gauge

from crm_platform.db import Database, utc
from crm_platform.eventbus import EventBus
from crm_reporting.adapters import tables as t

log = logging.getLogger(__name__)

EVENTS_APPLIED = Gauge(
    "crm_reporting_read_model_events_applied", "Events applied to the read models, per source stream.", ["stream"]
)
DATA_AGE = Gauge(
    "crm_reporting_read_model_data_age_seconds",
    "Age of the newest event applied from a stream (how far behind the figures may be when it is busy).",
    ["stream"],
)
REBUILD_DURATION = Gauge(
    "crm_reporting_rebuild_duration_seconds", "Duration of the last completed rebuild of the read models."
)


def refresh(db: Database) -> None:
    now = datetime.now(UTC)
    with db.read() as s:
        # stream, events applied, time of the newest one (naive on SQLite)
        streams: Sequence[tuple[str, int, datetime | None]] = s.execute(
            sa.select(t.rm_streams.c.stream, t.rm_streams.c.events_applied, t.rm_streams.c.last_event_time)
        ).all()
        for stream, applied, last in streams:
            EVENTS_APPLIED.labels(stream).set(applied)
            when = utc(last)
            if when is not None:
                DATA_AGE.labels(stream).set(max(0.0, (now - when).total_seconds()))
        duration = s.scalar(
            sa.select(t.rm_rebuilds.c.duration_seconds)
            .where(t.rm_rebuilds.c.finished_at.is_not(None))
            .order_by(t.rm_rebuilds.c.id.desc())
            .limit(1)
        )
    if duration is not None:
        REBUILD_DURATION.set(duration)


class ReadModelGauges:
    name = "read-model-gauges"

    def __init__(self, db: Database, every_seconds: float):
        self.db = db
        self.every = every_seconds

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(refresh, self.db)
            except Exception as exc:  # the database away for a moment: try again next round
                log.warning("read-model gauges: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
