"""Outbox housekeeping (backlog gauges, purge of old published rows) and structured logs, with
no NATS involved."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.context import request_id_var
from crm_platform.db import Database, run_migrations
from crm_platform.eventbus import EventBus
from crm_platform.logs import JsonFormatter, _ContextFilter
from crm_platform.outbox import OutboxRelay, utcnow
from crm_platform.tables import outbox_events


def test_gauges_count_the_backlog_and_old_published_rows_are_purged(database_url: str) -> None:
    db = Database(database_url, "contacts")
    run_migrations(db, "crm_contacts:migrations")
    relay = OutboxRelay(db, EventBus("nats://127.0.0.1:1", "unused"), retention_days=7)
    try:
        with db.uow() as uow:
            ids = uow.add_events([events_pb2.ClientCreated(client=contacts_pb2.Client(id=str(i))) for i in range(5)])
            uow.commit()
        with db.uow() as uow:
            old, recent = utcnow() - timedelta(days=8), utcnow() - timedelta(days=1)
            table = outbox_events.c
            uow.session.execute(update(outbox_events).where(table.event_id.in_(ids[:2])).values(published_at=old))
            uow.session.execute(update(outbox_events).where(table.event_id == ids[2]).values(published_at=recent))
            uow.session.execute(update(outbox_events).where(table.event_id == ids[3]).values(created_at=old))
            uow.commit()
        backlog, oldest_age = relay.update_gauges()
        assert backlog == 2 and oldest_age > 7 * 24 * 3600
        relay._housekeeping()
        with db.read() as s:
            left = set(s.scalars(select(outbox_events.c.event_id)))
            assert s.scalar(select(func.count()).select_from(outbox_events)) == 3
        assert left == set(ids[2:])  # unpublished rows are never purged, however old
    finally:
        db.dispose()


def test_json_logs_carry_the_service_and_request_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(_ContextFilter("contacts"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    token = request_id_var.set("rid-42")
    try:
        logger.info("cliente %s creado", "Peña")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["service"] == "contacts" and line["request_id"] == "rid-42"
    assert line["msg"] == "cliente Peña creado" and line["level"] == "info" and line["ts"].endswith("Z")
