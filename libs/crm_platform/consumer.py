"""Idempotent durable consumers. A consumer pulls a batch of events from a service's stream and
handles it in one transaction of its own database, recording every event id in
`processed_events` (consumer, event id) in that same transaction, so an event delivered twice
changes state once. Messages are acknowledged only after the commit.

A batch first runs in one go (handlers see consecutive events of a type together, and the
processed ids are inserted in one statement). If anything in it fails, the batch is rolled back
and run again event by event, each in a savepoint, so that one bad event cannot hold back the
others: the failing one is nak'ed with a growing delay and, after `max_deliver` deliveries,
moved to `dead_letter_events`.

Handling continues the trace of the transaction that wrote the events (the `traceparent` header
the outbox relay sets): a handler registered with `on` runs in a span per event, a child of the
producer's span; one registered with `on_batch` runs in a span per run of events, a child when
they all come from one trace and linked to each trace otherwise.

A message whose subject is not an event of the stream's own service (`crm.<source>.`) is
terminated unread and counted in crm_events_refused_total: the NATS server already lets only the
owner publish its subjects, and this keeps a misconfigured stream from feeding a forged event.

Fault injection (the fault suite's switch, never set in deploy/): when CRM_FAULT_EXIT_AFTER_COMMIT
names a file, a consumer looks for that file after each committed batch. While it exists and holds
`<consumer glob> <subject glob>` (fnmatch, e.g. `reporting-deals crm.deals.*`), the first matching
consumer to commit a batch holding a matching event renames it to `<file>.fired` (one winner, the
switch is disarmed), writes there what it committed and is about to lose (JSON: service, consumer,
pid, the event ids of the batch's messages), and ends the process with os._exit(137) before
acknowledging any of them: a consumer killed between its commit and its ack. Unset, nothing is
looked at."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import fnmatch
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats.errors
from google.protobuf.message import Message
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import DateTime, bindparam, insert, text

from crm_platform import tracing
from crm_platform.context import request_id_var
from crm_platform.db import Database, UnitOfWork
from crm_platform.eventbus import (
    MSG_ID_HEADER,
    TRACEPARENT_HEADER,
    EventBus,
    service_of,
    stream_name,
    stream_subjects,
    subject_for,
)
from crm_platform.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_CONSUMED, EVENTS_REFUSED
from crm_platform.outbox import utcnow
from crm_platform.tables import dead_letter_events, processed_events

log = logging.getLogger(__name__)

FAULT_EXIT_AFTER_COMMIT = "CRM_FAULT_EXIT_AFTER_COMMIT"

Handler = Callable[[UnitOfWork, Any], None]
BatchHandler = Callable[[UnitOfWork, list[Any]], None]

# Event id -> traceparent of the events being handled (set around each handler call, read by the
# per-event spans of `on` handlers, which receive decoded events only).
_traceparents: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("crm_event_traceparents")


@dataclass(frozen=True)
class _Delivery:
    subject: str
    event_id: str
    data: bytes
    num_delivered: int
    traceparent: str = ""


class EventConsumer:
    """A durable consumer of one producing service's stream, named `<service>-<name>`.

    Register handlers with `on(EventClass, handler)`, where `handler(uow, event)` handles one
    event, or with `on_batch(EventClass, handler)`, where `handler(uow, events)` gets consecutive
    events of that type together (to write them with one executemany). Handlers change state
    through the unit of work and must not commit (the consumer commits the whole batch). Events
    of types without a handler are acknowledged and skipped."""

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
        self._own_prefix = f"crm.{source_service}."
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.fetch_timeout = fetch_timeout
        # subject -> (event class, handler, whether the handler makes a span per event itself)
        self._handlers: dict[str, tuple[type[Message], BatchHandler, bool]] = {}
        self._last_lag = -math.inf  # monotonic time starts near 0 after boot
        source = (
            "SELECT :consumer, value, :now FROM json_each(:ids) WHERE true"
            if database.is_sqlite
            else "SELECT :consumer, unnest(CAST(:ids AS varchar[])), :now"
        )
        self._fault_switch = os.environ.get(FAULT_EXIT_AFTER_COMMIT, "")
        self._claim_stmt = text(
            f"INSERT INTO {processed_events.name} (consumer, event_id, processed_at) {source}"
            " ON CONFLICT DO NOTHING RETURNING event_id"
        ).bindparams(bindparam("now", type_=DateTime(timezone=True)))

    def on(self, event_class: type[Message], handler: Handler) -> EventConsumer:
        subject = subject_for(event_class)

        def one_by_one(uow: UnitOfWork, events: list[Any]) -> None:
            traceparents = _traceparents.get({})
            for event in events:
                token = request_id_var.set(event.meta.request_id)
                try:
                    with tracing.consumer_span(
                        f"{subject} process",
                        [traceparents.get(event.meta.event_id, "")],
                        {"messaging.consumer.group.name": self.name, "messaging.message.id": event.meta.event_id},
                    ):
                        handler(uow, event)
                finally:
                    request_id_var.reset(token)

        return self._register(event_class, one_by_one, per_event=True)

    def on_batch(self, event_class: type[Message], handler: BatchHandler) -> EventConsumer:
        return self._register(event_class, handler, per_event=False)

    def _register(self, event_class: type[Message], handler: BatchHandler, *, per_event: bool) -> EventConsumer:
        if service_of(event_class) != self.source:
            raise ValueError(f"{event_class.DESCRIPTOR.full_name} is not an event of {self.source}")
        self._handlers[subject_for(event_class)] = (event_class, handler, per_event)
        return self

    def _call(self, uow: UnitOfWork, subject: str, deliveries: list[_Delivery]) -> None:
        """Runs the subject's handler on consecutive deliveries of it, in the trace(s) they carry."""
        event_class, handler, per_event = self._handlers[subject]
        events = [event_class.FromString(d.data) for d in deliveries]
        token = _traceparents.set({d.event_id: d.traceparent for d in deliveries})
        try:
            if per_event:
                handler(uow, events)
                return
            with tracing.consumer_span(
                f"{subject} process",
                [d.traceparent for d in deliveries],
                {"messaging.consumer.group.name": self.name, "messaging.batch.message_count": len(deliveries)},
            ):
                handler(uow, events)
        finally:
            _traceparents.reset(token)

    async def run(self, bus: EventBus, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                await bus.connected.wait()
                assert bus.js is not None
                # The producer creates its stream (only it may); until it has, wait for it.
                await self._wait_for_stream(bus, stop)
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
                # The next batch is fetched while the current one is handled (in a worker
                # thread), so NATS and the database work at the same time.
                fetching = asyncio.ensure_future(sub.fetch(self.batch_size, timeout=self.fetch_timeout))
                try:
                    while not stop.is_set():
                        try:
                            msgs = await fetching
                        except (TimeoutError, nats.errors.TimeoutError):
                            fetching = asyncio.ensure_future(sub.fetch(self.batch_size, timeout=self.fetch_timeout))
                            await self._report_lag(sub)
                            continue
                        fetching = asyncio.ensure_future(sub.fetch(self.batch_size, timeout=self.fetch_timeout))
                        await self.handle_messages(msgs)
                        await self._report_lag(sub)
                finally:
                    await self._give_back(fetching)
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

    async def _wait_for_stream(self, bus: EventBus, stop: asyncio.Event) -> None:
        assert bus.js is not None
        logged = False
        while not stop.is_set():
            try:
                await bus.js.stream_info(stream_name(self.source))
                return
            except NotFoundError:
                if not logged:
                    log.info("consumer %s waiting for stream %s", self.name, stream_name(self.source))
                    logged = True
                await asyncio.sleep(0.2)

    async def _give_back(self, fetching: asyncio.Future[list[Any]]) -> None:
        """On stop: messages fetched ahead and not handled are nak'ed, to be redelivered at once."""
        if not fetching.done():
            fetching.cancel()
        with contextlib.suppress(BaseException):
            for m in await fetching:
                await m.nak()

    async def _refuse_foreign(self, msgs: list[Any]) -> list[Any]:
        """Terminates (never redelivers) messages on subjects outside the source's own; returns the rest."""
        own = []
        for m in msgs:
            if m.subject.startswith(self._own_prefix):
                own.append(m)
                continue
            log.error(
                "consumer %s: refused a message on %s in stream %s (not an event of %s)",
                self.name,
                m.subject,
                stream_name(self.source),
                self.source,
            )
            await m.term()
            EVENTS_REFUSED.labels(self.db.service, self.name).inc()
        return own

    async def handle_messages(self, msgs: list[Any]) -> None:
        msgs = await self._refuse_foreign(msgs)
        if not msgs:
            return
        deliveries = [
            _Delivery(
                subject=m.subject,
                event_id=(m.headers or {}).get(MSG_ID_HEADER, ""),
                data=m.data,
                num_delivered=m.metadata.num_delivered if m.metadata else 1,
                traceparent=(m.headers or {}).get(TRACEPARENT_HEADER, ""),
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
        for outcome, count in collections.Counter(o for o, _ in outcomes).items():
            EVENTS_CONSUMED.labels(self.db.service, self.name, outcome).inc(count)

    def process_batch(self, deliveries: list[_Delivery]) -> list[tuple[str, int]]:
        """Runs in a worker thread; returns (outcome, deliveries so far) per message."""
        try:
            outcomes = self._process_together(deliveries)
        except Exception as exc:
            log.info(
                "consumer %s: batch of %d failed (%s); handling it event by event", self.name, len(deliveries), exc
            )
            outcomes = self._process_one_by_one(deliveries)
        if self._fault_switch:
            self._exit_if_switched(deliveries, outcomes)
        return outcomes

    def _exit_if_switched(self, deliveries: list[_Delivery], outcomes: list[tuple[str, int]]) -> None:
        """The fault-injection switch (see the module's notes): dies between the commit and the ack."""
        switch = self._fault_switch
        try:
            consumer_glob, subject_glob = Path(switch).read_text().split()
        except (OSError, ValueError):
            return  # not armed (or already fired)
        if not fnmatch.fnmatch(self.name, consumer_glob):
            return
        if not any(fnmatch.fnmatch(d.subject, subject_glob) for d in deliveries):
            return
        fired = switch + ".fired"
        try:
            os.rename(switch, fired)  # atomic: one consumer of one process wins
        except OSError:
            return
        committed = [d.event_id for d, (o, _) in zip(deliveries, outcomes, strict=True) if o != "failed" and d.event_id]
        record = {"service": self.db.service, "consumer": self.name, "pid": os.getpid(), "event_ids": committed}
        Path(fired).write_text(json.dumps(record))
        log.error(
            "consumer %s: fault switch %s: exiting after the commit of %d events, before their ack",
            self.name,
            switch,
            len(committed),
        )
        logging.shutdown()
        os._exit(137)

    def _claim_ids(self, uow: UnitOfWork, event_ids: list[str]) -> set[str]:
        """Records event ids as processed by this consumer; returns those not recorded before.

        One INSERT ... ON CONFLICT DO NOTHING RETURNING: each id is checked by a primary-key probe,
        whatever the table's size or statistics (a SELECT ... IN (...) first can be planned as a
        scan of every row of the consumer)."""
        if not event_ids:
            return set()
        # The ids travel as one parameter (a PostgreSQL array, a JSON array on SQLite), so the
        # statement stays short and its parsed/prepared form is reused batch after batch.
        ids: Any = event_ids if not self.db.is_sqlite else json.dumps(event_ids)
        params = {"consumer": self.name, "ids": ids, "now": utcnow()}
        return set(uow.session.execute(self._claim_stmt, params).scalars())

    def _process_together(self, deliveries: list[_Delivery]) -> list[tuple[str, int]]:
        outcomes: list[tuple[str, int]] = []
        fresh: list[int] = []
        with self.db.uow() as uow:
            unique_ids = list(dict.fromkeys(d.event_id for d in deliveries if d.event_id))
            new_ids = self._claim_ids(uow, unique_ids)
            for i, d in enumerate(deliveries):
                if not d.event_id:
                    log.error("consumer %s: message on %s has no %s; skipped", self.name, d.subject, MSG_ID_HEADER)
                    outcomes.append(("ignored", d.num_delivered))
                elif d.event_id in new_ids:
                    new_ids.discard(d.event_id)  # a second copy in the same batch is a duplicate
                    fresh.append(i)
                    outcomes.append(("processed" if d.subject in self._handlers else "ignored", d.num_delivered))
                else:
                    outcomes.append(("duplicate", d.num_delivered))
            for subject, run in itertools.groupby(fresh, key=lambda i: deliveries[i].subject):
                if subject in self._handlers:
                    self._call(uow, subject, [deliveries[i] for i in run])
            uow.commit()
        return outcomes

    def _process_one_by_one(self, deliveries: list[_Delivery]) -> list[tuple[str, int]]:
        outcomes: list[tuple[str, int]] = []
        with self.db.uow() as uow:
            for d in deliveries:
                if not d.event_id:
                    outcomes.append(("ignored", d.num_delivered))
                    continue
                handled = d.subject in self._handlers
                try:
                    with uow.session.begin_nested():
                        if not self._claim_ids(uow, [d.event_id]):
                            outcomes.append(("duplicate", d.num_delivered))
                            continue
                        if handled:
                            self._call(uow, d.subject, [d])
                    outcomes.append(("processed" if handled else "ignored", d.num_delivered))
                except Exception as exc:
                    if d.num_delivered < self.max_deliver:
                        log.warning("consumer %s: event %s (%s) failed: %s", self.name, d.event_id, d.subject, exc)
                        outcomes.append(("failed", d.num_delivered))
                        continue
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
                        self._claim_ids(uow, [d.event_id])
                    DEAD_LETTERS.labels(self.db.service, self.name).inc()
                    outcomes.append(("dead_lettered", d.num_delivered))
            uow.commit()
        return outcomes

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
