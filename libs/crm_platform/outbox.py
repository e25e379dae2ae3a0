"""The transactional outbox. `stage_event` writes an integration event into the service's
`outbox_events` table inside the caller's transaction; `OutboxRelay` publishes committed rows to
JetStream (Nats-Msg-Id = event id, many acks in flight), marks them published, and retries with
backoff while NATS is away. A rolled-back transaction leaves no row, so it publishes nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from crm_platform.context import current_actor, current_request_id
from crm_platform.db import Database
from crm_platform.eventbus import EVENT_TYPE_HEADER, MSG_ID_HEADER, EventBus, service_of, subject_for
from crm_platform.ids import new_id
from crm_platform.metrics import OUTBOX_BACKLOG, OUTBOX_FAILURES, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from crm_platform.tables import outbox_events

log = logging.getLogger(__name__)

# How long a claimed batch is reserved for the relay that claimed it (a relay that dies mid-batch
# leaves its rows to be picked up again after this; JetStream's dedupe window covers the replay).
CLAIM_LEASE = timedelta(seconds=30)


def utcnow() -> datetime:
    return datetime.now(UTC)


def stage_event(session: Session, service: str, message: Message) -> str:
    """Fills the event's meta (id, time, producer, request id, actor) and inserts its outbox row."""
    if service_of(message) != service:
        raise ValueError(f"service {service} cannot publish {message.DESCRIPTOR.full_name}")
    event_id = new_id()
    now = utcnow()
    meta = message.meta  # type: ignore[attr-defined]  # every event has EventMeta as field 1
    meta.event_id = event_id
    meta.occurred_at.FromDatetime(now)
    meta.producer = service
    meta.request_id = current_request_id()
    meta.actor_user_id = current_actor()
    session.execute(
        insert(outbox_events).values(
            event_id=event_id,
            subject=subject_for(message),
            event_type=message.DESCRIPTOR.full_name,
            payload=message.SerializeToString(),
            request_id=meta.request_id,
            created_at=now,
        )
    )
    return event_id


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        batch_size: int = 256,
        poll_seconds: float = 0.5,
        max_backoff: float = 10.0,
        retention_days: int = 7,
        publish_timeout: float = 5.0,
        replicas: int = 1,
    ):
        self.db = database
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_backoff = max_backoff
        self.retention = timedelta(days=retention_days)
        self.publish_timeout = publish_timeout
        self.replicas = replicas
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_gauges = 0.0
        self._last_purge = 0.0
        self.published_total = 0
        self.failed_batches = 0

    def wake(self) -> None:
        """Thread-safe: a transaction with events committed, so relay now rather than at the next poll."""
        if self._loop is not None and self._wakeup is not None:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        backoff = 0.1
        while not stop.is_set():
            try:
                sent = await self.relay_once()
                backoff = 0.1
            except Exception as exc:
                OUTBOX_FAILURES.labels(self.db.service).inc()
                self.failed_batches += 1
                log.warning("outbox relay could not publish (%s); retrying in %.1fs", exc or type(exc), backoff)
                await _wait_any(stop, None, backoff)
                backoff = min(backoff * 2, self.max_backoff)
                if self.bus.is_connected:  # e.g. "no responders": the stream may be gone
                    try:
                        await self.bus.ensure_stream(self.db.service, self.replicas)
                    except Exception as stream_exc:
                        log.debug("ensure stream: %s", stream_exc)
                continue
            await asyncio.to_thread(self._housekeeping)
            if sent < self.batch_size:
                self._wakeup.clear()
                await _wait_any(stop, self._wakeup, self.poll_seconds)

    async def relay_once(self) -> int:
        """Publishes one batch of due rows; returns how many were published."""
        if self.bus.js is None or not self.bus.is_connected:
            raise ConnectionError("NATS is not connected")
        rows = await asyncio.to_thread(self._claim)
        if not rows:
            return 0
        js = self.bus.js
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            headers = {MSG_ID_HEADER: row.event_id, EVENT_TYPE_HEADER: row.event_type}
            futures.append(await js.publish_async(row.subject, row.payload, headers=headers))
        done, pending = await asyncio.wait(futures, timeout=self.publish_timeout)
        for fut in pending:
            fut.cancel()
        ok: list[int] = []
        failed: list[tuple[int, int, str]] = []
        for row, fut in zip(rows, futures, strict=True):
            if fut in done and not fut.cancelled() and fut.exception() is None:
                ok.append(row.id)
            else:
                error = "timed out waiting for the JetStream ack"
                if fut in done and not fut.cancelled():
                    error = repr(fut.exception())
                failed.append((row.id, row.attempts, error))
        await asyncio.to_thread(self._mark, ok, failed)
        OUTBOX_PUBLISHED.labels(self.db.service).inc(len(ok))
        self.published_total += len(ok)
        if failed:
            raise ConnectionError(f"{len(failed)} of {len(rows)} events not acknowledged: {failed[0][2]}")
        return len(ok)

    def _claim(self) -> list[Any]:
        now = utcnow()
        due = (
            select(outbox_events.c.id)
            .where(
                outbox_events.c.published_at.is_(None),
                or_(outbox_events.c.next_attempt_at.is_(None), outbox_events.c.next_attempt_at <= now),
            )
            .order_by(outbox_events.c.id)
            .limit(self.batch_size)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        stmt = (
            update(outbox_events)
            .where(outbox_events.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + CLAIM_LEASE)
            .returning(
                outbox_events.c.id,
                outbox_events.c.event_id,
                outbox_events.c.subject,
                outbox_events.c.event_type,
                outbox_events.c.payload,
                outbox_events.c.attempts,
            )
        )
        with self.db.uow() as uow:
            rows = sorted(uow.session.execute(stmt).all(), key=lambda r: r.id)
            uow.commit()
        return rows

    def _mark(self, ok: list[int], failed: list[tuple[int, int, str]]) -> None:
        now = utcnow()
        with self.db.uow() as uow:
            if ok:
                uow.session.execute(update(outbox_events).where(outbox_events.c.id.in_(ok)).values(published_at=now))
            for row_id, attempts, error in failed:
                delay = min(2 ** min(attempts, 10) * 0.1, self.max_backoff)
                uow.session.execute(
                    update(outbox_events)
                    .where(outbox_events.c.id == row_id)
                    .values(
                        attempts=attempts + 1,
                        last_error=error[:2000],
                        next_attempt_at=now + timedelta(seconds=delay),
                    )
                )
            uow.commit()

    def _housekeeping(self) -> None:
        mono = time.monotonic()
        if mono - self._last_gauges >= 1.0:
            self._last_gauges = mono
            self.update_gauges()
        if mono - self._last_purge >= 600:
            self._last_purge = mono
            cutoff = utcnow() - self.retention
            with self.db.uow() as uow:
                uow.session.execute(
                    delete(outbox_events).where(
                        and_(outbox_events.c.published_at.is_not(None), outbox_events.c.published_at < cutoff)
                    )
                )
                uow.commit()

    def update_gauges(self) -> tuple[int, float]:
        with self.db.read() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(outbox_events.c.created_at)).where(outbox_events.c.published_at.is_(None))
            ).one()
        age = 0.0
        if oldest is not None:
            if oldest.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
                oldest = oldest.replace(tzinfo=UTC)
            age = max((utcnow() - oldest).total_seconds(), 0.0)
        OUTBOX_BACKLOG.labels(self.db.service).set(count)
        OUTBOX_OLDEST_AGE.labels(self.db.service).set(age)
        return count, age


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    _done, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for p in pending:
        p.cancel()
