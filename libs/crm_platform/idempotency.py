"""Safe retries of mutating calls (AIP-155): a request carrying a `request_id` returns the first
answer when repeated. The answer is stored in the same transaction as the change it reports."""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

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
