"""Text search helper of the repositories, for both backends."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import ColumnClause


def contains(column: ColumnClause[str] | ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """`column` contains `needle` literally (SQLAlchemy escapes % and _). The column holds
    case-folded text, so the needle is case-folded too."""
    return column.contains(needle.strip().casefold(), autoescape=True)
