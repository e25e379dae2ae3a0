"""Small pieces every identity use case shares: the clock, the version check, the not-found
errors, and one retry after a lost uniqueness race."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from crm_platform.errors import Conflict, NotFound

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_version(kind: str, record_id: str, current: int, expected: int) -> None:
    """Conflict (ABORTED, reason version_mismatch) when the caller named a version (non-zero)
    other than the stored one."""
    if expected and expected != current:
        raise Conflict(
            f"{kind} '{record_id}' is at version {current}, not {expected}: re-read it and retry",
            reason="version_mismatch",
            metadata={"current_version": str(current)},
        )


def user_not_found(user_id: str) -> NotFound:
    return NotFound(f"user '{user_id}' not found", reason="user_not_found")


def once_more_after_integrity_error(body: Callable[[], T]) -> T:
    """Runs a use case's transaction, and once more if a concurrent transaction won a race to a
    unique key or a foreign key (IntegrityError): the second run's checks see the winner and
    answer as they should (the first answer for a repeated request_id, ALREADY_EXISTS, ...)."""
    try:
        return body()
    except IntegrityError:
        return body()
