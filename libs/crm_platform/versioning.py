"""Optimistic concurrency for every service's records: each change bumps a record's version, and
an update that names the version it read fails with ABORTED unless that version is current."""

from __future__ import annotations

from dataclasses import Field, replace
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from crm_platform.errors import Conflict


class VersionedRecord(Protocol):
    """A record `touched` can bump: a dataclass (what `replace` needs) with a version."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def version(self) -> int: ...


R = TypeVar("R", bound=VersionedRecord)


def check_version(what: str, record_id: str, stored: int, expected: int) -> None:
    """Raises Conflict (ABORTED, reason version_mismatch) when `expected` is set and not `stored`."""
    if expected and expected != stored:
        raise Conflict(
            f"{what} '{record_id}' is at version {stored}, not {expected}: read it again and retry",
            reason="version_mismatch",
            metadata={"current_version": str(stored), "expected_version": str(expected)},
        )


def touched(record: R, now: datetime) -> R:
    """The record as a change leaves it: next version, updated now."""
    return replace(record, version=record.version + 1, updated_at=now)
