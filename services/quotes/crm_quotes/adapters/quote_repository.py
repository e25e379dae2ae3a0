"""Storing and reading quotes with their lines, and the per-year counter that numbers them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked
from crm_quotes.adapters.rows import text_query
from crm_quotes.adapters.tables import quote_counters, quote_lines, quotes
from crm_quotes.domain import totals as amounts
from crm_quotes.domain.quotes import Quote, QuoteLine, QuoteStatus, with_totals


def next_number(session: Session, year: int) -> int:
    """The next sequence number of `year`, taken in the caller's transaction: the counter row stays
    locked (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE) until it commits, and a
    rollback gives the number back, so numbers have no gaps and no repeats."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(quote_counters)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[quote_counters.c.year], set_={"last_number": quote_counters.c.last_number + 1}
        )
        .returning(quote_counters.c.last_number)
    )
    return int(session.execute(stmt).scalar_one())


def _quote_values(quote: Quote) -> dict[str, Any]:
    assert quote.totals is not None and quote.valid_until is not None, "only a priced quote is stored"
    return {
        "number": quote.number,
        "revision": quote.revision,
        "root_number": quote.root_number,
        "revises_quote_id": quote.revises_quote_id,
        "superseded_by_quote_id": quote.superseded_by_quote_id,
        "deal_id": quote.deal_id,
        "client_id": quote.client_id,
        "contact_id": quote.contact_id,
        "owner_id": quote.owner_id,
        "currency_code": quote.currency,
        "global_discount_percent": quote.global_discount_percent,
        "subtotal": quote.totals.subtotal,
        "discount_total": quote.totals.discount_total,
        "tax_total": quote.totals.tax_total,
        "total": quote.totals.total,
        "valid_until": quote.valid_until,
        "terms": quote.terms,
        "notes": quote.notes,
        "status": quote.status.value,
        "rejection_reason": quote.rejection_reason,
        "send_time": quote.send_time,
        "accept_time": quote.accept_time,
        "reject_time": quote.reject_time,
        "expire_time": quote.expire_time,
        "search_text": quote.search_text,
        "updated_at": quote.updated_at,
        "version": quote.version,
    }


def _line_rows(quote: Quote) -> list[dict[str, Any]]:
    return [
        {
            "id": ln.id,
            "quote_id": quote.id,
            "position": i,
            "product_id": ln.product_id,
            "sku": ln.sku,
            "description": ln.description,
            "unit_of_measure": ln.unit_of_measure,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "discount_percent": ln.discount_percent,
            "tax_rate": ln.tax_rate,
            "subtotal": ln.amounts.subtotal,
            "discount": ln.amounts.discount,
            "tax": ln.amounts.tax,
            "total": ln.amounts.total,
        }
        for i, ln in enumerate(quote.lines)
    ]


# The statements of a quote's changes, built once: their values travel as parameters, so SQLAlchemy
# reuses the compiled form instead of building bound values on every call.
_UPDATED_COLUMNS = tuple(c.name for c in quotes.columns if c.name not in ("id", "created_at"))
_INSERT_QUOTE = insert(quotes)
_UPDATE_QUOTE = (
    update(quotes)
    .where(quotes.c.id == bindparam("w_id"), quotes.c.version == bindparam("w_read_version"))
    .values({name: bindparam(f"v_{name}") for name in _UPDATED_COLUMNS})
)


def add_quote(session: Session, quote: Quote) -> None:
    session.execute(_INSERT_QUOTE, {"id": quote.id, "created_at": quote.created_at, **_quote_values(quote)})
    rows = _line_rows(quote)
    if rows:
        session.execute(insert(quote_lines), rows)


def update_quote(session: Session, quote: Quote, read_version: int, *, lines_changed: bool) -> bool:
    """Stores the changed quote (and, when `lines_changed`, its lines) if its row is still at
    `read_version`; False when another change came first (nothing written)."""
    params = {f"v_{k}": v for k, v in _quote_values(quote).items()}
    result = session.execute(_UPDATE_QUOTE, {"w_id": quote.id, "w_read_version": read_version, **params})
    if rows_changed(result) != 1:
        return False
    if lines_changed:
        session.execute(delete(quote_lines).where(quote_lines.c.quote_id == quote.id))
        rows = _line_rows(quote)
        if rows:
            session.execute(insert(quote_lines), rows)
    return True


def delete_quote(session: Session, quote_id: str) -> None:
    session.execute(delete(quote_lines).where(quote_lines.c.quote_id == quote_id))
    session.execute(delete(quotes).where(quotes.c.id == quote_id))


def _line(row: Any) -> QuoteLine:
    return QuoteLine(
        id=row.id,
        product_id=row.product_id,
        sku=row.sku,
        description=row.description,
        unit_of_measure=row.unit_of_measure,
        quantity=row.quantity,
        unit_price=row.unit_price,
        discount_percent=row.discount_percent,
        tax_rate=row.tax_rate,
        amounts=amounts.LineAmounts(row.subtotal, row.discount, row.tax, row.total),
    )


def _quote(row: Any, lines: Sequence[QuoteLine]) -> Quote:
    quote = Quote(
        id=row.id,
        deal_id=row.deal_id,
        owner_id=row.owner_id,
        currency=row.currency_code,
        client_id=row.client_id,
        contact_id=row.contact_id,
        number=row.number,
        revision=row.revision,
        root_number=row.root_number,
        revises_quote_id=row.revises_quote_id,
        superseded_by_quote_id=row.superseded_by_quote_id,
        lines=tuple(lines),
        global_discount_percent=row.global_discount_percent,
        valid_until=row.valid_until,
        terms=row.terms,
        notes=row.notes,
        status=QuoteStatus(row.status),
        rejection_reason=row.rejection_reason,
        send_time=utc(row.send_time),
        accept_time=utc(row.accept_time),
        reject_time=utc(row.reject_time),
        expire_time=utc(row.expire_time),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )
    # The figures are the sums of the stored line amounts (domain.totals), per tax rate too.
    return with_totals(quote)


def _with_lines(session: Session, rows: Sequence[Any]) -> list[Quote]:
    by_quote: dict[str, list[QuoteLine]] = {r.id: [] for r in rows}
    for chunk in chunked(by_quote):
        stmt = (
            select(quote_lines)
            .where(quote_lines.c.quote_id.in_(chunk))
            .order_by(quote_lines.c.quote_id, quote_lines.c.position)
        )
        for line in session.execute(stmt):
            by_quote[line.quote_id].append(_line(line))
    return [_quote(r, by_quote[r.id]) for r in rows]


def get_quote(session: Session, quote_id: str, *, for_update: bool = False) -> Quote | None:
    """The quote with its lines, or None; `for_update` locks its row (PostgreSQL) until the end."""
    stmt = select(quotes).where(quotes.c.id == quote_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _with_lines(session, [row])[0]


@dataclass(frozen=True)
class QuoteQuery:
    """A list's filters, as the service layer checked them."""

    query: str = ""
    owner_ids: tuple[str, ...] = ()
    deal_id: str = ""
    client_id: str = ""
    status: QuoteStatus | None = None
    root_number: str = ""
    include_superseded: bool = False


def _status_condition(status: QuoteStatus, today: date) -> ColumnElement[bool]:
    """The rows whose status *as read* is `status`: a sent quote past its valid_until day is
    expired even before the sweep stores it."""
    if status == QuoteStatus.SENT:
        return and_(quotes.c.status == QuoteStatus.SENT.value, quotes.c.valid_until >= today)
    if status == QuoteStatus.EXPIRED:
        return or_(
            quotes.c.status == QuoteStatus.EXPIRED.value,
            and_(quotes.c.status == QuoteStatus.SENT.value, quotes.c.valid_until < today),
        )
    return quotes.c.status == status.value


def list_quotes(session: Session, q: QuoteQuery, today: date, *, limit: int, after_id: str | None) -> list[Quote]:
    """Quotes matching the filters in id order (oldest first), keyset-paginated. `today` is the
    company's date, for statuses as read."""
    conditions: list[ColumnElement[bool]] = text_query(quotes.c.search_text, q.query)
    if q.owner_ids:
        conditions.append(quotes.c.owner_id.in_(q.owner_ids))
    if q.deal_id:
        conditions.append(quotes.c.deal_id == q.deal_id)
    if q.client_id:
        conditions.append(quotes.c.client_id == q.client_id)
    if q.root_number:
        conditions.append(quotes.c.root_number == q.root_number)
    if q.status is not None:
        conditions.append(_status_condition(q.status, today))
    elif not q.include_superseded:
        conditions.append(quotes.c.status != QuoteStatus.SUPERSEDED.value)
    if after_id:
        conditions.append(quotes.c.id > after_id)
    rows = list(session.execute(select(quotes).where(*conditions).order_by(quotes.c.id).limit(limit)))
    return _with_lines(session, rows)


def due_for_expiry(session: Session, today: date, limit: int) -> list[str]:
    """Ids of stored-as-sent quotes whose valid_until day is before `today` (the company's date)."""
    stmt = (
        select(quotes.c.id)
        .where(quotes.c.status == QuoteStatus.SENT.value, quotes.c.valid_until < today)
        .order_by(quotes.c.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_quotes(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(quotes)) or 0)
