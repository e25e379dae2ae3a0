"""The consumers' fault switch (CRM_FAULT_EXIT_AFTER_COMMIT, crm_platform.consumer) that the fault
suite uses to kill a consumer between its commit and its ack: off unless set, armed only while its
file exists, fires once (for the named consumer and subjects only) after the batch is committed and
before anything is acknowledged, and is never set in deploy/. Fast: process_batch on SQLite, with
os._exit replaced so the test process survives."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, insert, select

from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_platform.consumer import FAULT_EXIT_AFTER_COMMIT, EventConsumer, _Delivery
from crm_platform.db import Database, UnitOfWork, run_migrations
from crm_platform.eventbus import subject_for
from crm_platform.tables import processed_events

ROOT = Path(__file__).resolve().parents[2]
seen = sa.Table("test_switch_seen", sa.MetaData(), sa.Column("client_id", sa.String(36), primary_key=True))


class Exited(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _exit(code: int) -> None:
    raise Exited(code)


def _consumer(url: str) -> EventConsumer:
    db = Database(url, "reporting")
    run_migrations(db, "crm_reporting:migrations")
    seen.metadata.create_all(db.engine)

    def record(uow: UnitOfWork, event: events_pb2.ClientCreated) -> None:
        uow.session.execute(insert(seen).values(client_id=event.client.id))

    return EventConsumer(db, "contacts", "contacts").on(events_pb2.ClientCreated, record)


def _deliveries(n: int) -> list[_Delivery]:
    out = []
    for _ in range(n):
        event = events_pb2.ClientCreated(client=contacts_pb2.Client(id=str(uuid.uuid4()), name="Acme"))
        event.meta.event_id = str(uuid.uuid4())
        out.append(_Delivery(subject_for(event), event.meta.event_id, event.SerializeToString(), 1))
    return out


def _rows(c: EventConsumer) -> tuple[int, int]:
    with c.db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(seen)) or 0),
            int(s.scalar(select(func.count()).select_from(processed_events)) or 0),
        )


@pytest.fixture
def no_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "_exit", _exit)  # the consumer calls os._exit


def test_unset_the_switch_looks_at_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_exit: None
) -> None:
    monkeypatch.delenv(FAULT_EXIT_AFTER_COMMIT, raising=False)
    (tmp_path / "switch").write_text("* *")  # a file alone arms nothing
    c = _consumer(sqlite_url)
    assert c.process_batch(_deliveries(2)) == [("processed", 1), ("processed", 1)]
    assert (tmp_path / "switch").exists()


def test_the_switch_fires_once_after_the_commit_for_its_consumer_and_subjects_only(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_exit: None
) -> None:
    switch = tmp_path / "switch"
    monkeypatch.setenv(FAULT_EXIT_AFTER_COMMIT, str(switch))
    c = _consumer(sqlite_url)
    assert c.name == "reporting-contacts"

    # Set but not armed (no file): handled as usual.
    assert c.process_batch(_deliveries(1)) == [("processed", 1)]
    # Armed for another consumer, or other subjects: handled as usual, the switch stays armed.
    for armed in ("reporting-deals crm.contacts.*", "reporting-contacts crm.contacts.v1.client_updated"):
        switch.write_text(armed)
        assert c.process_batch(_deliveries(1)) == [("processed", 1)]
        assert switch.exists()

    switch.write_text("reporting-* crm.contacts.*\n")
    batch = _deliveries(3)
    with pytest.raises(Exited) as exited:
        c.process_batch(batch)
    assert exited.value.code == 137
    # Committed before the exit: the batch's rows and its processed-event ids are there.
    assert _rows(c) == (6, 6)
    record = json.loads(Path(f"{switch}.fired").read_text())
    assert record["consumer"] == "reporting-contacts" and record["service"] == "reporting"
    assert record["event_ids"] == [d.event_id for d in batch]
    assert not switch.exists()  # disarmed: it fires once

    # The redelivered batch changes nothing and the switch does not fire again.
    assert c.process_batch(batch) == [("duplicate", 1)] * 3
    assert _rows(c) == (6, 6)


def test_deploy_never_sets_the_switch() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "deploy").rglob("*")
        if path.is_file() and FAULT_EXIT_AFTER_COMMIT in path.read_text(errors="replace")
    ]
    assert not found
