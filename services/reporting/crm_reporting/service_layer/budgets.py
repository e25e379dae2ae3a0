"""Budget use cases: create (one per owner, period and currency; a safe retry with request_id),
read, list, update the target (optimistic concurrency) and delete. Each change publishes its event
through the outbox in the same transaction. Nothing is written when a check fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.reporting.v1 import events_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.db import Database, rows_changed, utc
from crm_platform.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from crm_platform.idempotency import run_once
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import check_version
from crm_reporting.adapters import tables as t
from crm_reporting.domain.budgets import UPDATABLE, Budget, BudgetDraft, parse_target, validate_owner_and_period
from crm_reporting.domain.periods import Period, PeriodKind
from crm_reporting.entrypoints.budget_convert import budget_to_proto

Clock = Callable[[], datetime]
B = t.budgets


def _from_row(row: Any) -> Budget:
    return Budget(
        id=row.id,
        user_id=row.user_id,
        team_id=row.team_id,
        period=Period(PeriodKind(row.period_kind), row.period_start),
        currency_code=row.currency_code,
        target_minor=int(row.target_minor),
        created_by=row.created_by,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=int(row.version),
    )


def _to_row(b: Budget) -> dict[str, Any]:
    return {
        "id": b.id,
        "user_id": b.user_id,
        "team_id": b.team_id,
        "period_kind": b.period.kind.value,
        "period_start": b.period.start,
        "period_end": b.period.end,
        "currency_code": b.currency_code,
        "target_minor": b.target_minor,
        "created_by": b.created_by,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "version": b.version,
    }


def _stored(session: Session, budget_id: str) -> Budget:
    row = session.execute(sa.select(B).where(B.c.id == budget_id)).first() if is_valid_id(budget_id) else None
    if row is None:
        raise NotFound(f"budget '{budget_id}' not found", reason="budget_not_found")
    return _from_row(row)


def _duplicate(session: Session, b: Budget) -> str | None:
    """The id of another budget of the same owner, period and currency, if there is one."""
    owner = B.c.user_id == b.user_id if b.user_id else sa.and_(B.c.user_id == "", B.c.team_id == b.team_id)
    return session.scalar(
        sa.select(B.c.id).where(
            owner,
            B.c.period_kind == b.period.kind.value,
            B.c.period_start == b.period.start,
            B.c.currency_code == b.currency_code,
            B.c.id != b.id,
        )
    )


def _already_exists(b: Budget, other_id: str) -> AlreadyExists:
    owner = f"user '{b.user_id}'" if b.user_id else f"team '{b.team_id}'"
    return AlreadyExists(
        f"{owner} already has a {b.currency_code} budget for the {b.period.kind.value} starting "
        f"{b.period.start.isoformat()} (budget '{other_id}')",
        reason="budget_exists",
        metadata={"budget_id": other_id},
    )


def create_budget(
    db: Database, draft: BudgetDraft, *, actor: str, request_id: str, now: Clock
) -> pb.CreateBudgetResponse:
    period = validate_owner_and_period(draft)
    currency, target_minor = parse_target(draft.amount, draft.currency_code)

    def change(uow: Any) -> pb.CreateBudgetResponse:
        at = now()
        team_id = draft.team_id
        if draft.user_id:  # the team the user is in now (from identity's events), "" if unknown
            team_id = uow.session.scalar(sa.select(t.rm_users.c.team_id).where(t.rm_users.c.id == draft.user_id)) or ""
        budget = Budget(
            id=new_id(),
            user_id=draft.user_id,
            team_id=team_id,
            period=period,
            currency_code=currency,
            target_minor=target_minor,
            created_by=actor,
            created_at=at,
            updated_at=at,
            version=1,
        )
        other = _duplicate(uow.session, budget)
        if other:
            raise _already_exists(budget, other)
        uow.session.execute(sa.insert(B).values(**_to_row(budget)))
        message = budget_to_proto(budget)
        uow.add_event(events_pb2.BudgetCreated(budget=message))
        return pb.CreateBudgetResponse(budget=message)

    try:
        return run_once(db, "reporting.CreateBudget", request_id, pb.CreateBudgetResponse, change)
    except IntegrityError:  # a concurrent create of the same owner, period and currency won
        raise AlreadyExists(
            "a budget for this owner, period and currency already exists", reason="budget_exists"
        ) from None


def get_budget(db: Database, budget_id: str) -> Budget:
    with db.read() as session:
        return _stored(session, budget_id)


@dataclass(frozen=True)
class BudgetFilters:
    user_id: str = ""
    # The team's own budget and its members' (the team each was in when the budget was set).
    team_id: str = ""
    period_kind: PeriodKind | None = None
    period_start_from: date | None = None
    period_start_to: date | None = None


def list_budgets(db: Database, filters: BudgetFilters, page_size: int, page_token: str) -> Page[Budget]:
    if page_size < 0:
        raise InvalidArgument.field("page_size", "must not be negative")
    conditions: list[Any] = []
    if filters.user_id:
        conditions.append(B.c.user_id == filters.user_id)
    if filters.team_id:
        conditions.append(B.c.team_id == filters.team_id)
    if filters.period_kind is not None:
        conditions.append(B.c.period_kind == filters.period_kind.value)
    if filters.period_start_from is not None:
        conditions.append(B.c.period_start >= filters.period_start_from)
    if filters.period_start_to is not None:
        conditions.append(B.c.period_start <= filters.period_start_to)
    key = {
        "user_id": filters.user_id,
        "team_id": filters.team_id,
        "period_kind": filters.period_kind.value if filters.period_kind else "",
        "from": filters.period_start_from.isoformat() if filters.period_start_from else "",
        "to": filters.period_start_to.isoformat() if filters.period_start_to else "",
    }

    def fetch(session: Session, limit: int, after: str | None) -> list[Budget]:
        stmt = sa.select(B).where(*conditions).order_by(B.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(B.c.id > after)
        return [_from_row(r) for r in session.execute(stmt)]

    return read_page(db, key, page_size, page_token, fetch)


def update_budget(
    db: Database, budget_id: str, draft: BudgetDraft, paths: list[str], *, expected_version: int, now: Clock
) -> Budget:
    checked = UPDATABLE.check(paths)
    with db.uow() as uow:
        current = _stored(uow.session, budget_id)
        check_version("budget", budget_id, current.version, expected_version)
        # A mask naming only the currency keeps the amount (valid if it fits the new currency's decimals).
        amount = draft.amount if checked & {"target", "target.amount"} else str(current.target.normalize())
        currency = draft.currency_code if checked & {"target", "target.currency_code"} else current.currency_code
        new_currency, target_minor = parse_target(amount, currency)
        updated = replace(
            current,
            currency_code=new_currency,
            target_minor=target_minor,
            version=current.version + 1,
            updated_at=now(),
        )
        if (updated.currency_code, updated.target_minor) == (current.currency_code, current.target_minor):
            return current
        other = _duplicate(uow.session, updated)
        if other:
            raise _already_exists(updated, other)
        result = uow.session.execute(
            sa.update(B)
            .where(B.c.id == budget_id, B.c.version == current.version)
            .values(
                currency_code=updated.currency_code,
                target_minor=updated.target_minor,
                version=updated.version,
                updated_at=updated.updated_at,
            )
        )
        if not rows_changed(result):
            raise Conflict(
                f"budget '{budget_id}' changed meanwhile: read it again and retry", reason="version_mismatch"
            )
        changed = ["target"]  # the only updatable field, and it did change
        uow.add_event(events_pb2.BudgetUpdated(budget=budget_to_proto(updated), changed_fields=changed))
        uow.commit()
        return updated


def delete_budget(db: Database, budget_id: str) -> None:
    with db.uow() as uow:
        current = _stored(uow.session, budget_id)
        uow.session.execute(sa.delete(B).where(B.c.id == budget_id))
        uow.add_event(events_pb2.BudgetDeleted(budget=budget_to_proto(current)))
        uow.commit()
