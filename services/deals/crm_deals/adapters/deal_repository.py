"""Storing and reading pipelines (with their stages) and deals (with their line items, contacts
and stage history): the translation between table rows and domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Result, String, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from crm_deals.adapters.tables import (
    deal_contacts,
    deal_line_items,
    deal_stage_history,
    deals,
    pipelines,
    stages,
)
from crm_deals.domain.deals import Deal, DealStatus, LineItem, ProductFigures, StageMove
from crm_deals.domain.pipelines import Pipeline, Stage, StageKind
from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked
from crm_platform.money import round_amount

# --- Pipelines ---------------------------------------------------------------------------------


def _pipeline(row: Any, stage_rows: Iterable[Any]) -> Pipeline:
    return Pipeline(
        id=row.id,
        name=row.name,
        stages=tuple(
            Stage(s.id, s.name, s.default_probability, StageKind(s.kind))
            for s in sorted(stage_rows, key=lambda s: s.position)
        ),
        is_default=row.is_default,
        win_on_quote_accepted=row.win_on_quote_accepted,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _pipeline_values(p: Pipeline) -> dict[str, Any]:
    return {
        "name": p.name,
        "is_default": p.is_default,
        "win_on_quote_accepted": p.win_on_quote_accepted,
        "updated_at": p.updated_at,
        "version": p.version,
    }


def _stage_rows(p: Pipeline) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "pipeline_id": p.id,
            "position": i,
            "name": s.name,
            "default_probability": s.default_probability,
            "kind": s.kind.value,
        }
        for i, s in enumerate(p.stages)
    ]


def add_pipeline(session: Session, p: Pipeline) -> None:
    session.execute(insert(pipelines).values(id=p.id, created_at=p.created_at, **_pipeline_values(p)))
    session.execute(insert(stages), _stage_rows(p))


def _load_pipelines(session: Session, rows: Sequence[Any]) -> list[Pipeline]:
    if not rows:
        return []
    by_pipeline: dict[str, list[Any]] = {r.id: [] for r in rows}
    for s in session.execute(select(stages).where(stages.c.pipeline_id.in_(list(by_pipeline)))):
        by_pipeline[s.pipeline_id].append(s)
    return [_pipeline(r, by_pipeline[r.id]) for r in rows]


def get_pipeline(session: Session, pipeline_id: str, *, for_update: bool = False) -> Pipeline | None:
    """The pipeline, or None; `for_update` locks its row (PostgreSQL) until the transaction ends:
    every change to a pipeline or its stages takes that lock first."""
    stmt = select(pipelines).where(pipelines.c.id == pipeline_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _load_pipelines(session, [row])[0]


def default_pipeline(session: Session, *, for_update: bool = False) -> Pipeline | None:
    stmt = select(pipelines).where(pipelines.c.is_default.is_(True))
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _load_pipelines(session, [row])[0]


# Pipelines change seldom and every change bumps their version: a process keeps the last version
# it read of each (ids are unique, so one cache serves every database a process opens).
_pipelines_seen: dict[str, Pipeline] = {}
_PIPELINE_VERSION = select(pipelines.c.id, pipelines.c.version).where(pipelines.c.id == bindparam("pipeline_id"))
_DEFAULT_PIPELINE_VERSION = select(pipelines.c.id, pipelines.c.version).where(pipelines.c.is_default.is_(True))


def current_pipeline(session: Session, pipeline_id: str = "") -> Pipeline | None:
    """The pipeline (the default one when no id is given), or None: one query for its id and
    version, and its stages only when this process has not read that version yet."""
    if pipeline_id:
        row = session.execute(_PIPELINE_VERSION, {"pipeline_id": pipeline_id}).first()
    else:
        row = session.execute(_DEFAULT_PIPELINE_VERSION).first()
    if row is None:
        return None
    seen = _pipelines_seen.get(row.id)
    if seen is not None and seen.version == row.version:
        return seen
    pipeline = get_pipeline(session, row.id)
    if pipeline is not None:
        _pipelines_seen[pipeline.id] = pipeline
    return pipeline


def get_pipelines(session: Session, pipeline_ids: Iterable[str]) -> dict[str, Pipeline]:
    ids = sorted(set(pipeline_ids))
    if not ids:
        return {}
    rows = list(session.execute(select(pipelines).where(pipelines.c.id.in_(ids))))
    return {p.id: p for p in _load_pipelines(session, rows)}


def list_pipelines(session: Session, *, limit: int, after_id: str | None) -> list[Pipeline]:
    stmt = select(pipelines).order_by(pipelines.c.id).limit(limit)
    if after_id:
        stmt = stmt.where(pipelines.c.id > after_id)
    return _load_pipelines(session, list(session.execute(stmt)))


def save_pipeline(session: Session, p: Pipeline, read_version: int) -> bool:
    """Stores the changed pipeline and its stages if its row is still at `read_version`; False if
    another change came first (nothing written). Stages no longer in it are deleted (the caller
    has moved their deals)."""
    result = session.execute(
        update(pipelines)
        .where(pipelines.c.id == p.id, pipelines.c.version == read_version)
        .values(**_pipeline_values(p))
    )
    if rows_changed(result) != 1:
        return False
    kept = [s.id for s in p.stages]
    session.execute(delete(stages).where(stages.c.pipeline_id == p.id, stages.c.id.not_in(kept)))
    current: set[str] = set(session.scalars(select(stages.c.id).where(stages.c.pipeline_id == p.id)))
    for row in _stage_rows(p):
        if row["id"] in current:
            session.execute(update(stages).where(stages.c.id == row["id"]).values(**row))
        else:
            session.execute(insert(stages).values(**row))
    return True


def clear_default(session: Session, except_id: str) -> list[str]:
    """Unsets is_default on every other pipeline; returns their ids (to bump and announce)."""
    ids: list[str] = list(
        session.scalars(select(pipelines.c.id).where(pipelines.c.is_default.is_(True), pipelines.c.id != except_id))
    )
    if ids:
        session.execute(
            update(pipelines).where(pipelines.c.id.in_(ids)).values(is_default=False, version=pipelines.c.version + 1)
        )
    return ids


def delete_pipeline(session: Session, pipeline_id: str) -> None:
    session.execute(delete(stages).where(stages.c.pipeline_id == pipeline_id))
    session.execute(delete(pipelines).where(pipelines.c.id == pipeline_id))


def count_deals(session: Session, *, pipeline_id: str = "", stage_id: str = "") -> int:
    stmt = select(func.count()).select_from(deals)
    if pipeline_id:
        stmt = stmt.where(deals.c.pipeline_id == pipeline_id)
    if stage_id:
        stmt = stmt.where(deals.c.stage_id == stage_id)
    return int(session.scalar(stmt) or 0)


def deal_ids_in_stage(session: Session, stage_id: str) -> list[str]:
    return list(session.scalars(select(deals.c.id).where(deals.c.stage_id == stage_id).order_by(deals.c.id)))


# --- Deals -------------------------------------------------------------------------------------


def _deal_values(d: Deal) -> dict[str, Any]:
    return {
        "title": d.title,
        "client_id": d.client_id,
        "owner_id": d.owner_id,
        "pipeline_id": d.pipeline_id,
        "stage_id": d.stage_id,
        "amount": d.amount,
        "currency_code": d.currency_code,
        "probability": d.probability or 0,
        "expected_close_date": d.expected_close_date,
        "source_campaign_id": d.source_campaign_id,
        "status": d.status.value,
        "lost_reason": d.lost_reason,
        "won_at": d.won_at,
        "lost_at": d.lost_at,
        "accepted_quote_id": d.accepted_quote_id,
        "source_prospect_id": d.source_prospect_id,
        "search_text": d.search_text,
        "updated_at": d.updated_at,
        "version": d.version,
    }


def _children_statement(table: Any, postgres: bool) -> Any:
    order = table.c.seq if table is deal_stage_history else table.c.position
    # PostgreSQL takes the ids as one array (= ANY): one statement text, prepared once, however many
    # ids; SQLite takes them as an IN list.
    ids = any_(bindparam("ids", type_=ARRAY(String))) if postgres else bindparam("ids", expanding=True)
    match = table.c.deal_id == ids if postgres else table.c.deal_id.in_(ids)
    return select(table).where(match).order_by(table.c.deal_id, order)


# A page of deals reads its line items, contacts and history with one cached statement each.
_CHILD_TABLES = (deal_line_items, deal_contacts, deal_stage_history)
_CHILDREN = {pg: tuple(_children_statement(t, pg) for t in _CHILD_TABLES) for pg in (False, True)}


def _children(session: Session, ids: Sequence[str]) -> tuple[dict[str, list[Any]], ...]:
    statements = _CHILDREN[session.get_bind().dialect.name == "postgresql"]
    found: tuple[dict[str, list[Any]], ...] = tuple({i: [] for i in ids} for _ in statements)
    for stmt, into in zip(statements, found, strict=True):
        for chunk in chunked(ids):
            for row in session.execute(stmt, {"ids": chunk}):
                into[row.deal_id].append(row)
    return found


def _deal(row: Any, items: list[Any], people: list[Any], history: list[Any]) -> Deal:
    return Deal(
        id=row.id,
        title=row.title,
        client_id=row.client_id,
        owner_id=row.owner_id,
        amount=round_amount(row.amount, row.currency_code),
        currency_code=row.currency_code,
        line_items=tuple(LineItem(i.product_id, Decimal(i.quantity).normalize()) for i in items),
        contact_ids=tuple(c.contact_id for c in people),
        pipeline_id=row.pipeline_id,
        stage_id=row.stage_id,
        probability=row.probability,
        expected_close_date=row.expected_close_date,
        source_campaign_id=row.source_campaign_id,
        status=DealStatus(row.status),
        lost_reason=row.lost_reason,
        won_at=utc(row.won_at),
        lost_at=utc(row.lost_at),
        accepted_quote_id=row.accepted_quote_id,
        source_prospect_id=row.source_prospect_id,
        stage_history=tuple(StageMove(h.from_stage_id, h.to_stage_id, h.moved_by, utc(h.moved_at)) for h in history),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _load_deals(session: Session, rows: Sequence[Any]) -> list[Deal]:
    ids = [r.id for r in rows]
    items, people, history = _children(session, ids)
    return [_deal(r, items[r.id], people[r.id], history[r.id]) for r in rows]


def _add_children(
    session: Session,
    deal_id: str,
    *,
    line_items: Sequence[LineItem] = (),
    contact_ids: Sequence[str] = (),
    history: Sequence[StageMove] = (),
    history_from: int = 0,
) -> None:
    """Inserts the deal's line items, contacts and its stage history entries from `history_from` on."""
    if line_items:
        session.execute(
            insert(deal_line_items),
            [
                {"deal_id": deal_id, "position": i, "product_id": it.product_id, "quantity": it.quantity}
                for i, it in enumerate(line_items)
            ],
        )
    if contact_ids:
        session.execute(
            insert(deal_contacts),
            [{"deal_id": deal_id, "position": i, "contact_id": c} for i, c in enumerate(contact_ids)],
        )
    entries = [
        {
            "deal_id": deal_id,
            "seq": seq,
            "from_stage_id": h.from_stage_id,
            "to_stage_id": h.to_stage_id,
            "moved_by": h.moved_by,
            "moved_at": h.moved_at,
        }
        for seq, h in enumerate(history)
        if seq >= history_from
    ]
    if entries:
        session.execute(insert(deal_stage_history), entries)


# The statements a deal's every change runs, built once: their values travel as parameters, so
# SQLAlchemy reuses the compiled form instead of building bound values per call (measured: a third
# of a create's time went to that).
_UPDATED_COLUMNS = tuple(c.name for c in deals.columns if c.name not in ("id", "created_at"))
_INSERT_DEAL = insert(deals)
_UPDATE_DEAL = (
    update(deals)
    .where(deals.c.id == bindparam("w_id"), deals.c.version == bindparam("w_read_version"))
    .values({name: bindparam(f"v_{name}") for name in _UPDATED_COLUMNS})
)
_DEAL_BY_ID = select(deals).where(deals.c.id == bindparam("deal_id"))
_DEAL_BY_ID_LOCKED = _DEAL_BY_ID.with_for_update()


def add_deal(session: Session, d: Deal) -> None:
    session.execute(_INSERT_DEAL, {"id": d.id, "created_at": d.created_at, **_deal_values(d)})
    _add_children(session, d.id, line_items=d.line_items, contact_ids=d.contact_ids, history=d.stage_history)


def get_deal(session: Session, deal_id: str, *, for_update: bool = False) -> Deal | None:
    """The deal, or None; `for_update` locks its row (PostgreSQL) until the transaction ends."""
    row = session.execute(_DEAL_BY_ID_LOCKED if for_update else _DEAL_BY_ID, {"deal_id": deal_id}).first()
    return None if row is None else _load_deals(session, [row])[0]


def deal_from_prospect(session: Session, prospect_id: str) -> Deal | None:
    row = session.execute(select(deals).where(deals.c.source_prospect_id == prospect_id).limit(1)).first()
    return None if row is None else _load_deals(session, [row])[0]


def save_deal(session: Session, before: Deal, after: Deal) -> bool:
    """Stores `after` if the deal's row is still at `before.version`; False if another change came
    first (nothing written). Line items and contacts are replaced when they changed; the stage
    history entries after `before`'s are appended."""
    params = {f"v_{k}": v for k, v in _deal_values(after).items()}
    result = session.execute(_UPDATE_DEAL, {"w_id": after.id, "w_read_version": before.version, **params})
    if rows_changed(result) != 1:
        return False
    items_changed = after.line_items != before.line_items
    contacts_changed = after.contact_ids != before.contact_ids
    if items_changed:
        session.execute(delete(deal_line_items).where(deal_line_items.c.deal_id == after.id))
    if contacts_changed:
        session.execute(delete(deal_contacts).where(deal_contacts.c.deal_id == after.id))
    _add_children(
        session,
        after.id,
        line_items=after.line_items if items_changed else (),
        contact_ids=after.contact_ids if contacts_changed else (),
        history=after.stage_history,
        history_from=len(before.stage_history),
    )
    return True


def delete_deal(session: Session, deal_id: str) -> None:
    for table in (deal_line_items, deal_contacts, deal_stage_history):
        session.execute(delete(table).where(table.c.deal_id == deal_id))
    session.execute(delete(deals).where(deals.c.id == deal_id))


def _conditions(
    *,
    query: str = "",
    owner_ids: Sequence[str] = (),
    pipeline_id: str = "",
    stage_id: str = "",
    status: DealStatus | None = None,
    client_id: str = "",
    contact_id: str = "",
    product_id: str = "",
    source_campaign_id: str = "",
    expected_close_from: date | None = None,
    expected_close_to: date | None = None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if owner_ids:
        conditions.append(deals.c.owner_id.in_(owner_ids))
    if pipeline_id:
        conditions.append(deals.c.pipeline_id == pipeline_id)
    if stage_id:
        conditions.append(deals.c.stage_id == stage_id)
    if status is not None:
        conditions.append(deals.c.status == status.value)
    if client_id:
        conditions.append(deals.c.client_id == client_id)
    if contact_id:
        conditions.append(
            deals.c.id.in_(select(deal_contacts.c.deal_id).where(deal_contacts.c.contact_id == contact_id))
        )
    if product_id:
        conditions.append(
            deals.c.id.in_(select(deal_line_items.c.deal_id).where(deal_line_items.c.product_id == product_id))
        )
    if source_campaign_id:
        conditions.append(deals.c.source_campaign_id == source_campaign_id)
    if expected_close_from is not None:
        conditions.append(deals.c.expected_close_date >= expected_close_from)
    if expected_close_to is not None:
        conditions.append(deals.c.expected_close_date <= expected_close_to)
    needle = query.strip().casefold()
    if needle:
        conditions.append(deals.c.search_text.contains(needle, autoescape=True))
    return conditions


def list_deals(session: Session, *, limit: int, after_id: str | None, **filters: Any) -> list[Deal]:
    """Deals matching `filters` in id order (ids are time-ordered: oldest first), keyset-paginated."""
    stmt = select(deals).where(*_conditions(**filters)).order_by(deals.c.id).limit(limit)
    if after_id:
        stmt = stmt.where(deals.c.id > after_id)
    return _load_deals(session, list(session.execute(stmt)))


def count_matching_deals(session: Session, **filters: Any) -> int:
    """How many deals match `filters` (see _conditions)."""
    return int(session.scalar(select(func.count()).select_from(deals).where(*_conditions(**filters))) or 0)


def product_figures(
    session: Session, product_ids: Sequence[str], owner_ids: Sequence[str] = ()
) -> dict[str, ProductFigures]:
    """{product id: its figures} for the products that deals' line items name, counting only deals
    owned by `owner_ids` when given (the reader's visibility). Counts are grouped by the database;
    the won amounts are summed here in Decimal (an exact sum on both backends)."""
    out: dict[str, ProductFigures] = {}
    owned = [deals.c.owner_id.in_(list(owner_ids))] if owner_ids else []
    for chunk in chunked(product_ids):
        counts = (
            select(deal_line_items.c.product_id, deals.c.status, func.count())
            .join(deals, deals.c.id == deal_line_items.c.deal_id)
            .where(deal_line_items.c.product_id.in_(chunk), *owned)
            .group_by(deal_line_items.c.product_id, deals.c.status)
        )
        counted: Result[str, str, int] = session.execute(counts)  # product id, deal status, deals
        for product_id, status, count in counted:
            entry = out.setdefault(product_id, ProductFigures())
            entry.deal_count += count
            if status == DealStatus.OPEN.value:
                entry.open_deal_count += count
            elif status == DealStatus.WON.value:
                entry.won_deal_count += count
        won = (
            select(deal_line_items.c.product_id, deals.c.currency_code, deals.c.amount)
            .join(deals, deals.c.id == deal_line_items.c.deal_id)
            .where(deal_line_items.c.product_id.in_(chunk), deals.c.status == DealStatus.WON.value, *owned)
        )
        won_amounts: Result[str, str, Decimal] = session.execute(won)  # product id, currency, amount
        for product_id, currency, amount in won_amounts:
            sums = out[product_id].won_amounts
            sums[currency] = sums.get(currency, Decimal(0)) + amount
    return out


def closed_stage_ids(session: Session, pipeline_ids: Iterable[str]) -> frozenset[str]:
    """The won and lost stages of these pipelines (time there is not counted as time in a stage).
    A pipeline's won and lost stages never change, so any version this process has read answers."""
    closed: set[str] = set()
    missing = []
    for pipeline_id in set(pipeline_ids):
        seen = _pipelines_seen.get(pipeline_id)
        if seen is None:
            missing.append(pipeline_id)
        else:
            closed |= {seen.won_stage.id, seen.lost_stage.id}
    if missing:
        stmt = select(stages.c.id).where(
            stages.c.pipeline_id.in_(sorted(missing)), stages.c.kind != StageKind.OPEN.value
        )
        closed |= set(session.scalars(stmt))
    return frozenset(closed)
