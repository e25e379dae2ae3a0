"""Storing and reading activities (a row each): the translation between table rows and domain
objects, the list query (keyset-paginated in (sort time, id) order, through the indexes the
migration made for each filter), and the one read of a deal that activities need: its client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from crm_deals.adapters.tables import activities, deals
from crm_deals.domain.activities import Activity, ActivityKind, ActivityStatus
from crm_platform.db import rows_changed, utc


def _row_to_activity(row: Any) -> Activity:
    return Activity(
        id=row.id,
        owner_id=row.owner_id,
        kind=ActivityKind(row.kind),
        subject=row.subject,
        notes=row.notes,
        due_time=utc(row.due_at),
        duration_seconds=row.duration_seconds,
        done_time=utc(row.done_at),
        outcome=row.outcome,
        deal_id=row.deal_id,
        client_id=row.client_id,
        contact_id=row.contact_id,
        prospect_id=row.prospect_id,
        campaign_id=row.campaign_id,
        status=ActivityStatus(row.status),
        cancel_reason=row.cancel_reason,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(activity: Activity) -> dict[str, Any]:
    assert activity.kind is not None and activity.status is not None, "only a validated activity is stored"
    return {
        "kind": activity.kind.value,
        "subject": activity.subject,
        "notes": activity.notes,
        "due_at": activity.due_time,
        "duration_seconds": activity.duration_seconds,
        "done_at": activity.done_time,
        "outcome": activity.outcome,
        "owner_id": activity.owner_id,
        "deal_id": activity.deal_id,
        "client_id": activity.client_id,
        "contact_id": activity.contact_id,
        "prospect_id": activity.prospect_id,
        "campaign_id": activity.campaign_id,
        "status": activity.status.value,
        "cancel_reason": activity.cancel_reason,
        "sort_at": activity.sort_time,
        "search_text": activity.search_text,
        "updated_at": activity.updated_at,
        "version": activity.version,
    }


def add_activity(session: Session, activity: Activity) -> None:
    session.execute(insert(activities).values(id=activity.id, created_at=activity.created_at, **_values(activity)))


def update_activity(session: Session, activity: Activity, read_version: int) -> bool:
    """Stores the changed activity if its row is still at `read_version`; False if another change
    came first (nothing written)."""
    result = session.execute(
        update(activities)
        .where(activities.c.id == activity.id, activities.c.version == read_version)
        .values(**_values(activity))
    )
    return rows_changed(result) == 1


def delete_activity(session: Session, activity_id: str) -> None:
    session.execute(delete(activities).where(activities.c.id == activity_id))


def get_activity(session: Session, activity_id: str, *, for_update: bool = False) -> Activity | None:
    """The activity, or None; `for_update` locks its row (PostgreSQL) until the transaction ends."""
    stmt = select(activities).where(activities.c.id == activity_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_activity(row)


def deal_link(session: Session, deal_id: str, *, lock: bool = False) -> tuple[str, str] | None:
    """The deal's (client id, owner id), or None when there is no such deal. `lock` holds a shared
    lock on its row (PostgreSQL) until the transaction ends, so the deal is not deleted meanwhile."""
    stmt = select(deals.c.client_id, deals.c.owner_id).where(deals.c.id == deal_id)
    row = session.execute(stmt.with_for_update(read=True) if lock else stmt).first()
    return None if row is None else (row.client_id, row.owner_id)


def _contains(column: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """`column` contains `needle` literally (% and _ match themselves)."""
    return column.contains(needle, autoescape=True)


def list_statement(
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    needle: str = "",
    owner_ids: tuple[str, ...] = (),
    kind: ActivityKind | None = None,
    status: ActivityStatus | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    deal_id: str = "",
    client_id: str = "",
    contact_id: str = "",
    prospect_id: str = "",
    campaign_id: str = "",
) -> Select[Any]:
    """The query of a list page: activities passing the filters in (sort time, id) order after the
    key `after`, at most `limit`. `start` (inclusive) and `end` (exclusive) bound the due time.

    The bounds are put on sort_at, which equals the due time whenever there is one, so that they
    are a range of the filter's index; activities without a due time (logged done without one)
    are then left out explicitly. The text query is tested on the rows the index range yields:
    it narrows a list, it does not drive one."""
    c = activities.c
    conditions: list[ColumnElement[bool]] = []
    if owner_ids:
        conditions.append(c.owner_id == owner_ids[0] if len(owner_ids) == 1 else c.owner_id.in_(owner_ids))
    if kind is not None:
        conditions.append(c.kind == kind.value)
    if status is not None:
        conditions.append(c.status == status.value)
    for column, value in (
        (c.deal_id, deal_id),
        (c.client_id, client_id),
        (c.contact_id, contact_id),
        (c.prospect_id, prospect_id),
        (c.campaign_id, campaign_id),
    ):
        if value:
            conditions.append(column == value)
    if start is not None:
        conditions.append(c.sort_at >= start)
    if end is not None:
        conditions.append(c.sort_at < end)
    if (start is not None or end is not None) and status != ActivityStatus.SCHEDULED:
        conditions.append(c.due_at.is_not(None))  # a scheduled activity always has one
    if needle:
        conditions.append(_contains(c.search_text, needle))
    if after is not None:
        conditions.append(tuple_(c.sort_at, c.id) > after)
    return select(activities).where(*conditions).order_by(c.sort_at, c.id).limit(limit)


def list_activities(session: Session, **filters: Any) -> list[Activity]:
    """The activities of one list page (see list_statement for the filters)."""
    return [_row_to_activity(row) for row in session.execute(list_statement(**filters))]
