"""Optimistic concurrency for every service's records: each change bumps a record's version, and
an update that names the version it read fails with ABORTED unless that version is current."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from crm_platform.errors import Conflict

R = TypeVar("R")


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
    return replace(record, version=record.version + 1, updated_at=now)  # type: ignore[attr-defined]
