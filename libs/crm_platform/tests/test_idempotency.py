"""Request ids that carry a fingerprint of their request (crm_platform.idempotency), on SQLite and
PostgreSQL: the same key and fingerprint replays the first answer without running the change
again, the same key with another fingerprint is refused and changes nothing, concurrent calls with
one key and different requests make exactly one record, and plain request ids work as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from sqlalchemy import func, select

from crm.contacts.v1 import contacts_pb2
from crm_platform.db import Database, UnitOfWork
from crm_platform.idempotency import IdempotencyKeyReused, run_once, with_fingerprint
from crm_platform.tables import client_requests, platform_metadata

SCOPE = "CreateClient"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, "idempotency-test")
    platform_metadata.create_all(database.engine)
    yield database
    database.dispose()


def _create(db: Database, request_id: str, name: str, runs: list[str]) -> contacts_pb2.CreateClientResponse:
    def change(_uow: UnitOfWork) -> contacts_pb2.CreateClientResponse:
        runs.append(name)
        return contacts_pb2.CreateClientResponse(client=contacts_pb2.Client(id=f"id-{len(runs)}", name=name))

    return run_once(db, SCOPE, request_id, contacts_pb2.CreateClientResponse, change)


def _stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(client_requests)) or 0)


def test_the_same_request_replays_and_another_with_the_key_is_refused(db: Database) -> None:
    runs: list[str] = []
    first = _create(db, with_fingerprint("user:k1", "aaaa"), "Uno", runs)
    again = _create(db, with_fingerprint("user:k1", "aaaa"), "Uno", runs)
    assert again == first and runs == ["Uno"]
    with pytest.raises(IdempotencyKeyReused) as refused:
        _create(db, with_fingerprint("user:k1", "bbbb"), "Dos", runs)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "idempotency_key_reused"
    assert runs == ["Uno"] and _stored(db) == 1
    # Another key, and a key that only starts like this one, are requests of their own.
    _create(db, with_fingerprint("user:k10", "bbbb"), "Tres", runs)
    _create(db, with_fingerprint("user:k1_", "bbbb"), "Cuatro", runs)
    assert runs == ["Uno", "Tres", "Cuatro"]


def test_request_ids_without_a_fingerprint_are_looked_up_whole(db: Database) -> None:
    runs: list[str] = []
    first = _create(db, "event-123", "Uno", runs)
    assert _create(db, "event-123", "Otro", runs) == first
    _create(db, "event-123:nophone", "Dos", runs)
    assert runs == ["Uno", "Dos"]
    with pytest.raises(ValueError, match="must not contain"):
        with_fingerprint("a~b", "cccc")


def test_concurrent_requests_with_one_key_make_one_record(db: Database) -> None:
    runs: list[str] = []
    start = threading.Barrier(4)

    def attempt(i: int) -> str:
        start.wait()
        try:
            _create(db, with_fingerprint("user:race", f"fp{i}"), f"Cliente {i}", runs)
            return "made"
        except IdempotencyKeyReused:
            return "refused"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["made", "refused", "refused", "refused"]
    assert len(runs) == 1 and _stored(db) == 1
