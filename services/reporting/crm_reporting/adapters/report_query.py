"""Turns a checked report definition into SQLAlchemy Core statements over the read models, and
their rows into typed Python values (str, int, Decimal, Money, date, aware UTC datetime, bool).

The same statements run on SQLite and PostgreSQL. Date buckets of timestamps are computed in the
report's IANA time zone: PostgreSQL converts with `timezone(zone, ts)`; SQLite has no zone data,
so the zone's UTC offsets over the span of the data are looked up in Python (zoneinfo) and the
statement shifts each timestamp by a CASE over the offset changes (none for a zone without daylight
saving time), then truncates with strftime. Grouping runs in the database (GROUP BY), so a report
over a million rows returns only its groups."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.core import get_global
from sqlalchemy.orm import Session

from crm_platform.db import utc
from crm_platform.money import Money, minor_unit_exponent
from crm_reporting.adapters import tables
from crm_reporting.domain.report_catalogue import FieldType, ReportField, ReportModule
from crm_reporting.domain.report_definitions import (
    AggregateFunction,
    Bucket,
    CheckedFilter,
    CheckedReport,
    Operator,
    local_day_start,
)

# Averages of whole numbers are shown with this many decimals (half-up); money averages are
# rounded to the currency's minor unit.
AVG_DECIMALS = Decimal("0.0001")
# The longest span of data whose time-zone offsets are looked up (bounded loop), in days.
MAX_SPAN_DAYS = 366 * 300


@dataclass(frozen=True)
class OutputColumn:
    key: str
    label: str
    type: FieldType


@dataclass
class BuiltReport:
    """The statement of a whole report (no LIMIT), its columns, and how a result row becomes the
    report's typed values (one per column)."""

    columns: list[OutputColumn]
    statement: sa.Select[Any]
    decode: Callable[[Sequence[Any]], list[Any]]
    # Grouped reports only: a Money column's currency per row is in the row itself.
    grouped: bool


def table_of(module: ReportModule) -> sa.Table:
    return tables.metadata.tables[module.table]


# ---- money ----


@lru_cache(maxsize=1)
def _currencies_by_exponent() -> dict[int, tuple[str, ...]]:
    """Currencies whose minor unit is not 2 digits, grouped by exponent (2 is the default)."""
    out: dict[int, list[str]] = {}
    for code in sorted(get_global("all_currencies")):
        if len(code) == 3 and code.isalpha() and code.isupper():
            e = minor_unit_exponent(code)
            if e != 2:
                out.setdefault(e, []).append(code)
    return {e: tuple(codes) for e, codes in out.items()}


_exponents: dict[str, int] = {}
_scales: dict[str, Decimal] = {}


def exponent(currency: str) -> int:
    e = _exponents.get(currency)
    if e is None:
        e = _exponents[currency] = minor_unit_exponent(currency) if currency else 2
    return e


def money_of(minor: Any, currency: str) -> Money:
    scale = _scales.get(currency)
    if scale is None:
        scale = _scales[currency] = Decimal(1).scaleb(-exponent(currency))
    return Money(Decimal(int(minor)) * scale, currency)


def _money_comparison(col: sa.ColumnElement[Any], op: Operator, values: tuple[Decimal, ...], e: int) -> Any:
    """`col` (minor units of a currency with exponent e) against major-unit values, exactly: a
    value between two minor units (10.005 USD) compares as the real number it is."""
    minor = [v.scaleb(e) for v in values]

    def whole(m: Decimal) -> bool:
        return m == m.to_integral_value()

    if op == Operator.EQUALS:
        return col == int(minor[0]) if whole(minor[0]) else sa.false()
    if op == Operator.NOT_EQUALS:
        return col != int(minor[0]) if whole(minor[0]) else sa.true()
    if op == Operator.IN:
        ints = [int(m) for m in minor if whole(m)]
        return col.in_(ints) if ints else sa.false()
    if op == Operator.GREATER_THAN:
        return col > math.floor(minor[0])
    if op == Operator.GREATER_OR_EQUAL:
        return col >= math.ceil(minor[0])
    if op == Operator.LESS_THAN:
        return col < math.ceil(minor[0])
    if op == Operator.LESS_OR_EQUAL:
        return col <= math.floor(minor[0])
    if op == Operator.BETWEEN:
        return sa.and_(col >= math.ceil(minor[0]), col <= math.floor(minor[1]))
    raise AssertionError(op)


def _money_filter(table: sa.Table, f: CheckedFilter) -> Any:
    col, currency = table.c[f.field.column], table.c[f.field.currency_column]
    groups = _currencies_by_exponent()
    others = [c for codes in groups.values() for c in codes]
    parts = [sa.and_(currency.not_in(others), _money_comparison(col, f.operator, f.values, 2))]
    for e, codes in groups.items():
        parts.append(sa.and_(currency.in_(codes), _money_comparison(col, f.operator, f.values, e)))
    return sa.or_(*parts)


# ---- filters ----


def _instant_bounds(value: date | datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a filter value on a timestamp: a date is that whole day in the zone."""
    if isinstance(value, datetime):
        return value, value
    return local_day_start(value, zone), local_day_start(value + timedelta(days=1), zone)


def _timestamp_filter(col: sa.ColumnElement[Any], f: CheckedFilter, zone: ZoneInfo) -> Any:
    op = f.operator
    if op == Operator.BETWEEN:
        lo, _ = _instant_bounds(f.values[0], zone)
        _, hi = _instant_bounds(f.values[1], zone)
        upper = col < hi if isinstance(f.values[1], date) and not isinstance(f.values[1], datetime) else col <= hi
        return sa.and_(col >= lo, upper)
    v = f.values[0]
    start, end = _instant_bounds(v, zone)
    is_day = not isinstance(v, datetime)
    if op == Operator.EQUALS:
        return sa.and_(col >= start, col < end) if is_day else col == start
    if op == Operator.NOT_EQUALS:
        return sa.or_(col < start, col >= end, col.is_(None)) if is_day else sa.or_(col != start, col.is_(None))
    if op == Operator.GREATER_THAN:
        return col >= end if is_day else col > start
    if op == Operator.GREATER_OR_EQUAL:
        return col >= start
    if op == Operator.LESS_THAN:
        return col < start
    if op == Operator.LESS_OR_EQUAL:
        return col < end if is_day else col <= start
    raise AssertionError(op)


def _filter(table: sa.Table, f: CheckedFilter, zone: ZoneInfo) -> Any:
    field = f.field
    col = table.c[field.column]
    op = f.operator
    if field.is_list:
        # Space-separated members: padded with spaces so that each member is matched whole.
        padded = sa.literal(" ") + col + sa.literal(" ")
        return sa.or_(*(padded.contains(f" {v} ", autoescape=True) for v in f.values))
    if field.type == FieldType.MONEY:
        return _money_filter(table, f)
    if field.type == FieldType.TIMESTAMP:
        return _timestamp_filter(col, f, zone)
    if op == Operator.CONTAINS:
        return sa.func.lower(col).contains(f.values[0].lower(), autoescape=True)
    if op == Operator.EQUALS:
        return col == f.values[0]
    if op == Operator.NOT_EQUALS:
        return sa.or_(col != f.values[0], col.is_(None))
    if op == Operator.IN:
        return col.in_(list(f.values))
    if op == Operator.BETWEEN:
        return col.between(f.values[0], f.values[1])
    if op == Operator.GREATER_THAN:
        return col > f.values[0]
    if op == Operator.LESS_THAN:
        return col < f.values[0]
    if op == Operator.GREATER_OR_EQUAL:
        return col >= f.values[0]
    if op == Operator.LESS_OR_EQUAL:
        return col <= f.values[0]
    raise AssertionError(op)


def where_clauses(report: CheckedReport, owner_ids: Sequence[str]) -> list[Any]:
    table = table_of(report.module)
    clauses: list[Any] = [table.c.deleted == sa.false()]  # as the partial indexes say it
    if owner_ids and report.module.owned:
        clauses.append(table.c.owner_id.in_(list(owner_ids)))
    clauses.extend(_filter(table, f, report.time_zone) for f in report.filters)
    return clauses


# ---- date buckets ----


def offset_changes(zone: ZoneInfo, lo: datetime, hi: datetime) -> tuple[int, list[tuple[datetime, int]]]:
    """The zone's UTC offset (seconds) at `lo` and each change of it up to `hi`: (instant, offset
    from then on). Found by stepping a day at a time and bisecting to the second (bounded)."""

    def off(t: datetime) -> int:
        offset = t.astimezone(zone).utcoffset()
        assert offset is not None, "an aware time has an offset"
        return int(offset.total_seconds())

    lo = lo.astimezone(UTC) - timedelta(days=1)
    hi = min(hi.astimezone(UTC) + timedelta(days=1), lo + timedelta(days=MAX_SPAN_DAYS))
    first = current = off(lo)
    changes: list[tuple[datetime, int]] = []
    t = lo
    while t < hi:
        nxt = t + timedelta(days=1)
        if off(nxt) != current:
            a, b = t, nxt  # off(a) == current, off(b) != current
            while (b - a) > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0)
                if mid <= a:
                    break
                if off(mid) == current:
                    a = mid
                else:
                    b = mid
            current = off(b)
            changes.append((b, current))
        t = nxt
    return first, changes


def _sqlite_local(col: sa.ColumnElement[Any], zone: ZoneInfo, span: tuple[datetime, datetime] | None) -> Any:
    """The timestamp shifted to the zone's wall clock (an SQLite datetime string)."""
    if span is None:
        return sa.func.datetime(col)
    first, changes = offset_changes(zone, *span)
    if not changes:
        return sa.func.datetime(col, f"{first:+d} seconds")
    whens = [(col >= t.replace(tzinfo=None), f"{o:+d} seconds") for t, o in reversed(changes)]
    return sa.func.datetime(col, sa.case(*whens, else_=f"{first:+d} seconds"))


def bucket_expression(
    field: ReportField, bucket: Bucket, col: sa.ColumnElement[Any], zone: ZoneInfo, dialect: str, span: Any
) -> Any:
    """The first day of the bucket a row falls in (a date; on SQLite a 'YYYY-MM-DD' string)."""
    if dialect == "sqlite":
        local = _sqlite_local(col, zone, span) if field.type == FieldType.TIMESTAMP else col
        if bucket == Bucket.DAY:
            return sa.func.date(local)
        if bucket == Bucket.WEEK:
            return sa.func.date(local, "weekday 0", "-6 days")
        if bucket == Bucket.MONTH:
            return sa.func.strftime("%Y-%m-01", local)
        if bucket == Bucket.YEAR:
            return sa.func.strftime("%Y-01-01", local)
        if bucket == Bucket.QUARTER:
            month = sa.cast(sa.func.strftime("%m", local), sa.Integer)
            return sa.func.printf("%s-%02d-01", sa.func.strftime("%Y", local), ((month - 1) // 3) * 3 + 1)
        raise AssertionError(bucket)
    local = sa.func.timezone(zone.key, col) if field.type == FieldType.TIMESTAMP else sa.cast(col, sa.DateTime())
    if bucket == Bucket.DAY:
        return sa.cast(local, sa.Date)
    return sa.cast(sa.func.date_trunc(str(bucket), local), sa.Date)


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def data_span(session: Session, report: CheckedReport, owner_ids: Sequence[str]) -> dict[str, Any]:
    """Per timestamp field bucketed on SQLite: the (min, max) of its values (for the offsets)."""
    table = table_of(report.module)
    out: dict[str, Any] = {}
    for g in report.groupings:
        if g.bucket == Bucket.NONE or g.field.type != FieldType.TIMESTAMP or g.field.name in out:
            continue
        col = table.c[g.field.column]
        lo, hi = session.execute(
            sa.select(sa.func.min(col), sa.func.max(col)).where(*where_clauses(report, owner_ids))
        ).one()
        out[g.field.name] = None if lo is None else (utc(_to_dt(lo)), utc(_to_dt(hi)))
    return out


def _to_dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# ---- decoding ----


def _decoder(field: ReportField) -> Callable[[Any], Any]:
    t = field.type
    if t == FieldType.TIMESTAMP:
        return lambda v: None if v is None else (v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC))
    if t == FieldType.INTEGER:
        return lambda v: None if v is None else int(v)
    if t == FieldType.BOOL:
        return lambda v: None if v is None else bool(v)
    if t == FieldType.DATE:
        return _as_date
    return lambda v: v


def _avg(total: Any, count: Any) -> Decimal | None:
    if not count:
        return None
    return (Decimal(int(total)) / Decimal(int(count))).quantize(AVG_DECIMALS, rounding=ROUND_HALF_UP)


# ---- statements ----


def build(
    report: CheckedReport, owner_ids: Sequence[str], dialect: str, span: dict[str, Any] | None = None
) -> BuiltReport:
    return _grouped(report, owner_ids, dialect, span or {}) if report.grouped else _listing(report, owner_ids)


def _listing(report: CheckedReport, owner_ids: Sequence[str]) -> BuiltReport:
    """One row per record: the id first (a hidden key), then the row's currency, then the fields."""
    table = table_of(report.module)
    # Modules without money (clients, contacts, prospects, activities) have no currency column:
    # their rows carry an empty currency in its place, so that every listing has the same shape.
    currency = table.c.currency_code if "currency_code" in table.c else sa.literal("")
    selected: list[Any] = [table.c.id.label("_id"), currency.label("_currency")]
    # Values the database gives as they are shown (text, integers, booleans, dates) pass through;
    # only money (minor units + the row's currency) and timestamps (UTC) are converted.
    special: list[tuple[int, Callable[[Sequence[Any]], Any]]] = []
    columns: list[OutputColumn] = []
    for j, f in enumerate(report.columns):
        columns.append(OutputColumn(f.name, f.label, f.type))
        i = len(selected)
        selected.append(table.c[f.column].label(f"c{i}"))
        if f.type == FieldType.MONEY:
            special.append((j, _money_at(i, 1)))
        elif f.type in (FieldType.TIMESTAMP, FieldType.DATE):
            dec = _decoder(f)
            special.append((j, _decoded_at(i, dec)))
    order: list[Any] = []
    for term in report.order:
        f = report.module.fields[term.key]
        col = table.c[f.column]
        if f.type == FieldType.MONEY:
            order.append(table.c[f.currency_column])
        order.append(col.desc() if term.descending else col.asc())
    order.append(table.c.id)
    stmt = sa.select(*selected).where(*where_clauses(report, owner_ids)).order_by(*order)

    def decode(row: Sequence[Any]) -> list[Any]:
        out = list(row[2:])
        for j, fn in special:
            out[j] = fn(row)
        return out

    return BuiltReport(columns, stmt, decode, grouped=False)


def _grouped(report: CheckedReport, owner_ids: Sequence[str], dialect: str, span: dict[str, Any]) -> BuiltReport:
    table = table_of(report.module)
    selected: list[Any] = []
    group_exprs: list[Any] = []
    by_key: dict[str, Any] = {}
    columns: list[OutputColumn] = []
    decoders: list[Callable[[Sequence[Any]], Any]] = []
    for g in report.groupings:
        col = table.c[g.field.column]
        if g.bucket == Bucket.NONE:
            expr: Any = col
            dec = _decoder(g.field)
            columns.append(OutputColumn(g.key, g.label, g.field.type))
        else:
            expr = bucket_expression(g.field, g.bucket, col, report.time_zone, dialect, span.get(g.field.name))
            dec = _as_date
            columns.append(OutputColumn(g.key, g.label, FieldType.DATE))
        i = len(selected)
        selected.append(expr.label(f"g{i}"))
        group_exprs.append(expr)
        by_key[g.key] = expr
        decoders.append(_decoded_at(i, dec))
    currency_at: int | None = None
    if report.by_currency:
        currency_at = len(selected)
        selected.append(table.c.currency_code.label("_currency"))
        group_exprs.append(table.c.currency_code)
        by_key["currency_code"] = table.c.currency_code
        columns.append(OutputColumn("currency_code", "Moneda", FieldType.STRING))
        decoders.append(_decoded_at(currency_at, _same))
    elif any(g.field.name == "currency_code" and g.bucket == Bucket.NONE for g in report.groupings):
        currency_at = next(i for i, g in enumerate(report.groupings) if g.field.name == "currency_code")
    for a in report.aggregates:
        i = len(selected)
        if a.function == AggregateFunction.COUNT:
            expr = sa.func.count()
            columns.append(OutputColumn(a.key, a.label, FieldType.INTEGER))
            selected.append(expr.label(f"a{i}"))
            decoders.append(_decoded_at(i, int))
            by_key[a.key] = expr
            continue
        assert a.field is not None
        col = table.c[a.field.column]
        money = a.field.type == FieldType.MONEY
        if a.function == AggregateFunction.AVG:
            total, count = sa.func.sum(col), sa.func.count(col)
            selected.extend([total.label(f"a{i}"), count.label(f"a{i}n")])
            by_key[a.key] = sa.cast(total, sa.Float) / sa.func.nullif(count, 0)
            columns.append(OutputColumn(a.key, a.label, FieldType.MONEY if money else FieldType.DECIMAL))
            decoders.append(_avg_decoder(i, money, currency_at))
            continue
        fn: dict[AggregateFunction, Callable[[sa.ColumnElement[Any]], sa.ColumnElement[Any]]] = {
            AggregateFunction.SUM: sa.func.sum,
            AggregateFunction.MIN: sa.func.min,
            AggregateFunction.MAX: sa.func.max,
        }
        expr = fn[a.function](col)
        selected.append(expr.label(f"a{i}"))
        by_key[a.key] = expr
        columns.append(OutputColumn(a.key, a.label, FieldType.MONEY if money else FieldType.INTEGER))
        if money:
            assert currency_at is not None
            decoders.append(_money_at(i, currency_at))
        else:
            decoders.append(_decoded_at(i, _int_or_none))
    order: list[Any] = []
    for term in report.order:
        expr = by_key[term.key]
        order.append(expr.desc() if term.descending else expr.asc())
    order.extend(e.asc() for e in group_exprs)
    stmt = sa.select(*selected).where(*where_clauses(report, owner_ids)).group_by(*group_exprs).order_by(*order)

    def decode(row: Sequence[Any]) -> list[Any]:
        return [d(row) for d in decoders]

    return BuiltReport(columns, stmt, decode, grouped=True)


def _same(value: Any) -> Any:
    return value


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _decoded_at(i: int, decode: Callable[[Any], Any]) -> Callable[[Sequence[Any]], Any]:
    """A row's cell i, decoded."""
    return lambda row: decode(row[i])


def _money_at(i: int, currency_at: int) -> Callable[[Sequence[Any]], Money | None]:
    """A row's cell i (minor units) as Money in the currency of its cell currency_at."""
    return lambda row: None if row[i] is None else money_of(row[i], row[currency_at])


def _avg_decoder(i: int, money: bool, currency_at: int | None) -> Callable[[Sequence[Any]], Any]:
    def cell(row: Sequence[Any]) -> Any:
        total, count = row[i], row[i + 1]
        if not count:
            return None
        if money:
            assert currency_at is not None
            currency = row[currency_at]
            mean = Decimal(int(total)) / Decimal(int(count))
            quantum = Decimal(1)
            minor = mean.quantize(quantum, rounding=ROUND_HALF_UP)  # half-up to the minor unit, once
            return money_of(minor, currency)
        return _avg(total, count)

    return cell
