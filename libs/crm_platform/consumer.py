"""Idempotent durable consumers. A consumer pulls a batch of events from a service's stream and
handles it in one transaction of its own database: each event runs in a savepoint and is recorded
in `processed_events` (consumer, event id) in that same transaction, so an event delivered twice
changes state once. Messages are acknowledged only after the commit; a failing event is nak'ed
with a growing delay and, after `max_deliver` deliveries, moved to `dead_letter_events`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nats.errors
from google.protobuf.message import Message
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import insert, select

from crm_platform.context import request_id_var
from crm_platform.db import Database, UnitOfWork
from crm_platform.eventbus import (
    MSG_ID_HEADER,
    EventBus,
    service_of,
    stream_name,
    stream_subjects,
    subject_for,
)
from crm_platform.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_CONSUMED
from crm_platform.outbox import utcnow
from crm_platform.tables import dead_letter_events, processed_events

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, Any], None]


@dataclass(frozen=True)
class _Delivery:
    subject: str
    event_id: str
    data: bytes
    num_delivered: int


class EventConsumer:
    """A durable consumer of one producing service's stream, named `<service>-<name>`.

    Register handlers with `on(EventClass, handler)`; `handler(uow, event)` changes state through
    the unit of work and must not commit (the consumer commits the whole batch). Events of types
    without a handler are acknowledged and skipped."""

    def __init__(
        self,
        database: Database,
        name: str,
        source_service: str,
        *,
        batch_size: int = 256,
        max_deliver: int = 5,
        fetch_timeout: float = 1.0,
    ):
        self.db = database
        self.name = f"{database.service}-{name}"
        self.source = source_service
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.fetch_timeout = fetch_timeout
        self._handlers: dict[str, tuple[type[Message], Handler]] = {}
        self._last_lag = 0.0

    def on(self, event_class: type[Message], handler: Handler) -> EventConsumer:
        if service_of(event_class) != self.source:
            raise ValueError(f"{event_class.DESCRIPTOR.full_name} is not an event of {self.source}")
        self._handlers[subject_for(event_class)] = (event_class, handler)
        return self

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                await bus.connected.wait()
                assert bus.js is not None
                await bus.ensure_stream(self.source)
                sub = await bus.js.pull_subscribe(
                    stream_subjects(self.source),
                    durable=self.name,
                    stream=stream_name(self.source),
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=30,
                        max_ack_pending=10_000,
                    ),
                )
                log.info("consumer %s reading %s", self.name, stream_name(self.source))
                backoff = 0.2
                try:
                    while not stop.is_set():
                        try:
                            msgs = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                        except (TimeoutError, nats.errors.TimeoutError):
                            await self._report_lag(sub)
                            continue
                        await self.handle_messages(msgs)
                        await self._report_lag(sub)
                finally:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if stop.is_set():
                    return
                log.warning("consumer %s interrupted (%s); resuming in %.1fs", self.name, exc or type(exc), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def handle_messages(self, msgs: list[Any]) -> None:
        deliveries = [
            _Delivery(
                subject=m.subject,
                event_id=(m.headers or {}).get(MSG_ID_HEADER, ""),
                data=m.data,
                num_delivered=m.metadata.num_delivered if m.metadata else 1,
            )
            for m in msgs
        ]
        try:
            outcomes = await asyncio.to_thread(self.process_batch, deliveries)
        except Exception as exc:  # the batch's transaction failed (database away...): retry it all later
            log.warning("consumer %s could not commit a batch of %d (%s)", self.name, len(msgs), exc)
            for m in msgs:
                await m.nak(delay=2.0)
            EVENTS_CONSUMED.labels(self.db.service, self.name, "failed").inc(len(msgs))
            return
        for m, (outcome, delivered) in zip(msgs, outcomes, strict=True):
            if outcome == "failed":
                await m.nak(delay=min(0.5 * 2**delivered, 60.0))
            else:
                await m.ack()
            EVENTS_CONSUMED.labels(self.db.service, self.name, outcome).inc()

    def process_batch(self, deliveries: list[_Delivery]) -> list[tuple[str, int]]:
        """Runs in a worker thread: one transaction for the batch, a savepoint per event."""
        outcomes: list[tuple[str, int]] = []
        with self.db.uow() as uow:
            ids = [d.event_id for d in deliveries if d.event_id]
            seen = (
                set(
                    uow.session.scalars(
                        select(processed_events.c.event_id).where(
                            processed_events.c.consumer == self.name, processed_events.c.event_id.in_(ids)
                        )
                    )
                )
                if ids
                else set()
            )
            for d in deliveries:
                if not d.event_id:
                    log.error("consumer %s: message on %s has no %s; skipped", self.name, d.subject, MSG_ID_HEADER)
                    outcomes.append(("ignored", d.num_delivered))
                    continue
                if d.event_id in seen:
                    outcomes.append(("duplicate", d.num_delivered))
                    continue
                seen.add(d.event_id)
                entry = self._handlers.get(d.subject)
                try:
                    with uow.session.begin_nested():
                        if entry is not None:
                            event_class, handler = entry
                            event = event_class.FromString(d.data)
                            token = request_id_var.set(event.meta.request_id)  # type: ignore[attr-defined]
                            try:
                                handler(uow, event)
                            finally:
                                request_id_var.reset(token)
                        self._record(uow, d.event_id)
                    outcomes.append(("processed" if entry else "ignored", d.num_delivered))
                except Exception as exc:
                    if d.num_delivered >= self.max_deliver:
                        log.error(
                            "consumer %s: event %s (%s) failed %d times, moved to dead letters: %s",
                            self.name,
                            d.event_id,
                            d.subject,
                            d.num_delivered,
                            exc,
                        )
                        with uow.session.begin_nested():
                            uow.session.execute(
                                insert(dead_letter_events).values(
                                    consumer=self.name,
                                    event_id=d.event_id,
                                    subject=d.subject,
                                    payload=d.data,
                                    error=repr(exc)[:4000],
                                    deliveries=d.num_delivered,
                                    created_at=utcnow(),
                                )
                            )
                            self._record(uow, d.event_id)
                        DEAD_LETTERS.labels(self.db.service, self.name).inc()
                        outcomes.append(("dead_lettered", d.num_delivered))
                    else:
                        log.warning("consumer %s: event %s (%s) failed: %s", self.name, d.event_id, d.subject, exc)
                        seen.discard(d.event_id)
                        outcomes.append(("failed", d.num_delivered))
            uow.commit()
        return outcomes

    def _record(self, uow: UnitOfWork, event_id: str) -> None:
        uow.session.execute(
            insert(processed_events).values(consumer=self.name, event_id=event_id, processed_at=utcnow())
        )

    async def _report_lag(self, sub: Any) -> None:
        now = time.monotonic()
        if now - self._last_lag < 5.0:
            return
        self._last_lag = now
        try:
            info = await sub.consumer_info()
            CONSUMER_LAG.labels(self.db.service, self.name).set(info.num_pending)
        except Exception as exc:
            log.debug("consumer_info: %s", exc)
