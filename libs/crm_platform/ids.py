"""Record and event ids: UUIDv7 strings, so that ids sort by creation time (good index locality,
stable list order) and are unique across replicas without coordination."""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> str:
    """A new time-ordered id, as the canonical 36-character string."""
    return str(uuid6.uuid7())


def is_valid_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False
