"""Text search helper of the repositories, for both backends."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.sql.elements import ColumnClause

LIKE_ESCAPE = "\\"


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
