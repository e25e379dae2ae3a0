"""Safe retries of mutating calls (AIP-155): a request carrying a `request_id` returns the first
answer when repeated. The answer is stored in the same transaction as the change it reports;
`run_once` is the one place that pairs a unit of work with it (every create goes through it).

A request id may carry a fingerprint of the request it came with, as `<key>~<fingerprint>` (the
gateway makes them from the Idempotency-Key header and the request's method, path and body). The
key alone names the request: an answer stored under the same key with another fingerprint means
the key was reused for a different request, which is refused (`IdempotencyKeyReused`) rather than
answered with the first request's answer, as Stripe does. The fingerprint rides in the request id
so that every service gets the check without a schema change; a request id without `~` (ids made
by services from event ids) is looked up as a whole, as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import FailedPrecondition
from crm_platform.outbox import utcnow
from crm_platform.tables import client_requests

M = TypeVar("M", bound=Message)

FINGERPRINT_MARK = "~"


class IdempotencyKeyReused(FailedPrecondition):
    """The request id's key was already used for a request with another fingerprint."""

    reason = "idempotency_key_reused"


def with_fingerprint(key: str, fingerprint: str) -> str:
    """The request id for `key` sent with a request whose fingerprint is `fingerprint`."""
    if FINGERPRINT_MARK in key:
        raise ValueError(f"an idempotency key must not contain {FINGERPRINT_MARK!r}")
    return f"{key}{FINGERPRINT_MARK}{fingerprint}"


def remembered(session: Session, scope: str, request_id: str, response_class: type[M]) -> M | None:
    """The stored answer of an earlier call with this request id, if there was one;
    IdempotencyKeyReused when its key was used with another fingerprint."""
    if not request_id:
        return None
    key, mark, _fingerprint = request_id.partition(FINGERPRINT_MARK)
    table = client_requests.c
    if not mark:
        data = session.scalar(select(table.response).where(table.scope == scope, table.request_id == request_id))
        return None if data is None else response_class.FromString(data)
    _wait_for_same_key(session, scope, key)
    rows = session.execute(
        select(table.request_id, table.response).where(
            table.scope == scope, table.request_id.startswith(key + FINGERPRINT_MARK, autoescape=True)
        )
    ).all()
    for stored_id, data in rows:
        if stored_id == request_id:
            answer: M = response_class.FromString(data)  # protobuf ships no type hints: FromString is Any
            return answer
    if rows:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request; send a new key for a new request"
        )
    return None


def _wait_for_same_key(session: Session, scope: str, key: str) -> None:
    """On PostgreSQL, makes concurrent calls with the same key take turns until the transaction
    ends (a transaction-level advisory lock): the second then sees the first's answer and replays
    it or refuses it, where both would otherwise find nothing and each make a record. (The
    fingerprint in the stored request id keeps the primary key from catching that case.) SQLite
    runs one writer at a time already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{scope}\n{key}", 0))))


def remember(session: Session, scope: str, request_id: str, response: Message) -> None:
    if request_id:
        session.execute(
            insert(client_requests).values(
                scope=scope, request_id=request_id, response=response.SerializeToString(), created_at=utcnow()
            )
        )


def run_once(
    db: Database, scope: str, request_id: str, response_class: type[M], change: Callable[[UnitOfWork], M]
) -> M:
    """Runs `change` in a unit of work and commits its answer with the change, or returns the
    stored answer of an earlier call with the same `request_id` (if any) without running it."""
    for attempt in range(2):
        with db.uow() as uow:
            earlier = remembered(uow.session, scope, request_id, response_class)
            if earlier is not None:
                return earlier
            response = change(uow)
            remember(uow.session, scope, request_id, response)
            try:
                uow.commit()
            except IntegrityError:
                if attempt == 0 and request_id:
                    continue  # a concurrent call with the same request_id won: answer as it did
                raise
            return response
    raise AssertionError("unreachable")
