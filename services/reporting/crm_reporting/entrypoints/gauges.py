"""The reporting service's gauges on /metrics, refreshed from its database by a background task
(so they are right after a restart and whoever ran the rebuild): events applied per stream, the
age of the newest event applied, the duration of the last rebuild, and two business figures for
the operators' dashboard: the open pipeline per currency and the prospects (leads) per channel. Consumer
lag per durable consumer is the platform's crm_consumer_lag (crm_platform.consumer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from prometheus_client import Gauge

from crm_platform.db import Database, utc
from crm_platform.eventbus import EventBus
from crm_platform.money import minor_unit_exponent
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
# Business figures for a dashboard, not for arithmetic (a float of major units; the exact figures
# are the indicators' and reports').
PIPELINE_OPEN = Gauge(
    "crm_reporting_pipeline_open_amount",
    "Sum of the open deals' amounts per currency, in major units (a dashboard figure).",
    ["currency"],
)
LEADS = Gauge(
    "crm_reporting_prospects", "Prospects (leads) per channel they came from (source), live ones.", ["source"]
)
REBUILD_DURATION = Gauge(
    "crm_reporting_rebuild_duration_seconds", "Duration of the last completed rebuild of the read models."
)


# The business figures aggregate whole read models (a million deals is a second's scan on SQLite):
# a dashboard needs them once a minute, not at every refresh of the lag gauges.
BUSINESS_EVERY_SECONDS = 60.0


def refresh(db: Database) -> None:
    """The read models' progress: events applied and data age per stream, the last rebuild."""
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


def refresh_business(db: Database) -> None:
    """The dashboard's business figures: open pipeline per currency, live prospects per channel."""
    with db.read() as s:
        pipeline: Sequence[tuple[str, int | Decimal | None]] = s.execute(
            sa.select(t.rm_deals.c.currency_code, sa.func.sum(t.rm_deals.c.amount_minor))
            .where(t.rm_deals.c.status == "open", t.rm_deals.c.deleted == sa.false())
            .group_by(t.rm_deals.c.currency_code)
        ).all()
        leads: Sequence[tuple[str, int]] = s.execute(
            sa.select(t.rm_prospects.c.source, sa.func.count())
            .where(t.rm_prospects.c.deleted == sa.false())
            .group_by(t.rm_prospects.c.source)
        ).all()
    PIPELINE_OPEN.clear()  # a currency whose last open deal closed has no series any more
    for currency, minor in pipeline:
        if currency:
            PIPELINE_OPEN.labels(currency).set(float(Decimal(minor or 0).scaleb(-minor_unit_exponent(currency))))
    LEADS.clear()
    for source, count in leads:
        LEADS.labels(source or "unknown").set(count)


class ReadModelGauges:
    name = "read-model-gauges"

    def __init__(self, db: Database, every_seconds: float):
        self.db = db
        self.every = every_seconds

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        business_due = 0.0
        while not stop.is_set():
            try:
                now = time.monotonic()
                await asyncio.to_thread(refresh, self.db)
                if now >= business_due:
                    await asyncio.to_thread(refresh_business, self.db)
                    business_due = now + BUSINESS_EVERY_SECONDS
            except Exception as exc:  # the database away for a moment: try again next round
                log.warning("read-model gauges: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
