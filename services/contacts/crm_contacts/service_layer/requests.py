"""Running a create exactly once per client request id: the one place that pairs a unit of work
with crm_platform.idempotency (every create of this service goes through it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError

from crm_platform import idempotency
from crm_platform.db import Database, UnitOfWork

M = TypeVar("M", bound=Message)


def run_once(
    db: Database, scope: str, request_id: str, response_class: type[M], change: Callable[[UnitOfWork], M]
) -> M:
    """Runs `change` in a unit of work and commits its answer with the change, or returns the
    stored answer of an earlier call with the same `request_id` (if any) without running it."""
    for attempt in range(2):
        with db.uow() as uow:
            earlier = idempotency.remembered(uow.session, scope, request_id, response_class)
            if earlier is not None:
                return earlier
            response = change(uow)
            idempotency.remember(uow.session, scope, request_id, response)
            try:
                uow.commit()
            except IntegrityError:
                if attempt == 0 and request_id:
                    continue  # a concurrent call with the same request_id won: answer as it did
                raise
            return response
    raise AssertionError("unreachable")
