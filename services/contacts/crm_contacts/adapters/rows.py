"""Helpers of the repositories for both backends: UTC times back from SQLite, and text search."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import ColumnClause

LIKE_ESCAPE = "\\"


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def contains(column: ColumnClause[str] | ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """`column` contains `needle` literally (% and _ match themselves). The column holds
    case-folded text, so the needle is case-folded too."""
    escaped = (
        needle.strip()
        .casefold()
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return column.like(f"%{escaped}%", escape=LIKE_ESCAPE)
