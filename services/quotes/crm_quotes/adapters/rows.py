"""Helper of the repositories: the text condition of a list's query."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_
from sqlalchemy.sql.elements import ColumnClause


def text_query(column: ColumnClause[str] | ColumnElement[str], query: str) -> list[ColumnElement[bool]]:
    """Every word of the query must appear in the column, which holds case-folded text (a scan:
    catalogues and quote lists are small enough; contacts' trigram indexes serve the large lists).
    SQLAlchemy escapes % and _ in the words."""
    words = [w.casefold() for w in query.split() if w]
    return [and_(*(column.contains(w, autoescape=True) for w in words))] if words else []
