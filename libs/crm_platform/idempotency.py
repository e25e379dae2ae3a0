"""Safe retries of mutating calls (AIP-155): a request carrying a `request_id` returns the first
answer when repeated. The answer is stored in the same transaction as the change it reports;
`run_once` is the one place that pairs a unit of work with it (every create goes through it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_platform.db import Database, UnitOfWork
from crm_platform.outbox import utcnow
from crm_platform.tables import client_requests

M = TypeVar("M", bound=Message)


def remembered(session: Session, scope: str, request_id: str, response_class: type[M]) -> M | None:
    """The stored answer of an earlier call with this request id, if there was one."""
    if not request_id:
        return None
    data = session.scalar(
        select(client_requests.c.response).where(
            client_requests.c.scope == scope, client_requests.c.request_id == request_id
        )
    )
    return None if data is None else response_class.FromString(data)


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
