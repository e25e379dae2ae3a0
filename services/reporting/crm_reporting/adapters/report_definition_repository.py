"""Storing and reading saved report definitions: rows of `report_definitions` ↔ SavedReport (the
filters, groupings, aggregates, columns and order live in the JSON `definition` column)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_platform.db import rows_changed, utc
from crm_reporting.adapters.tables import report_definitions as t
from crm_reporting.adapters.tables import rm_streams, rm_users
from crm_reporting.domain.report_definitions import ReportSpec, SavedReport


@dataclass(frozen=True)
class DefinitionFilters:
    query: str = ""
    module: str = ""
    # Sorted; empty = any owner.
    owner_ids: tuple[str, ...] = ()
    include_shared: bool = False


def _from_row(row: Any) -> SavedReport:
    return SavedReport(
        id=row.id,
        name=row.name,
        description=row.description,
        spec=ReportSpec.from_json(row.module, row.definition),
        owner_id=row.owner_id,
        shared=bool(row.shared),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(report: SavedReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "name": report.name,
        "description": report.description,
        "module": report.spec.module,
        "definition": report.spec.to_json(),
        "owner_id": report.owner_id,
        "shared": report.shared,
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "version": report.version,
    }


def add(session: Session, report: SavedReport) -> None:
    session.execute(sa.insert(t).values(**_values(report)))


def get(session: Session, report_id: str, *, for_update: bool = False) -> SavedReport | None:
    stmt = sa.select(t).where(t.c.id == report_id)
    if for_update and session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    return None if row is None else _from_row(row)


def replace(session: Session, report: SavedReport) -> None:
    values = _values(report)
    values.pop("id")
    values.pop("created_at")
    session.execute(sa.update(t).where(t.c.id == report.id).values(**values))


def delete(session: Session, report_id: str) -> int:
    result = session.execute(sa.delete(t).where(t.c.id == report_id))
    return rows_changed(result)


def _where(filters: DefinitionFilters) -> list[Any]:
    clauses: list[Any] = []
    if filters.module:
        clauses.append(t.c.module == filters.module)
    if filters.query:
        q = filters.query.lower()
        clauses.append(
            sa.or_(
                sa.func.lower(t.c.name).contains(q, autoescape=True),
                sa.func.lower(t.c.description).contains(q, autoescape=True),
            )
        )
    if filters.owner_ids:
        mine = t.c.owner_id.in_(list(filters.owner_ids))
        clauses.append(sa.or_(mine, t.c.shared.is_(True)) if filters.include_shared else mine)
    return clauses


def page(session: Session, filters: DefinitionFilters, limit: int, after_id: str | None) -> list[SavedReport]:
    stmt = sa.select(t).where(*_where(filters))
    if after_id is not None:
        stmt = stmt.where(t.c.id > after_id)
    return [_from_row(r) for r in session.execute(stmt.order_by(t.c.id).limit(limit))]


def data_time(session: Session) -> Any:
    """The time of the newest event the read models include (None before any)."""
    return utc(session.scalar(sa.select(sa.func.max(rm_streams.c.last_event_time))))


def user_time_zone(session: Session, user_id: str) -> str:
    if not user_id:
        return ""
    return session.scalar(sa.select(rm_users.c.time_zone).where(rm_users.c.id == user_id)) or ""


def owners_tuple(owner_ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(owner_ids)))
