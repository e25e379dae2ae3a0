"""Report definitions (Informe): what a report reads (a module), how it narrows (filters, ANDed),
groups (fields, dates bucketed by day/week/month/quarter/year) and sums up (count, sum, avg, min,
max), and their validation against the module's field catalogue. Pure Python.

Every mistake is an InvalidArgument naming the part ("filters[1].field: unknown field 'foo' for
module deals"), so a bad definition never reaches SQL.

Money aggregates: amounts of different currencies are never added together. A grouped report with
an aggregate of a money field is always also grouped by currency (a "currency_code" column is added
after the definition's groupings, unless it already groups by it), so each row's sums are in one
currency and COUNT counts that currency's records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.money import parse_amount
from crm_reporting.domain.report_catalogue import MODULES, FieldType, ReportField, ReportModule

MAX_FILTERS = 50
MAX_GROUPINGS = 5
MAX_AGGREGATES = 20
MAX_COLUMNS = 50
MAX_IN_VALUES = 1000
MAX_VALUE_LENGTH = 500


class Operator(StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    CONTAINS = "contains"
    BETWEEN = "between"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    GREATER_OR_EQUAL = "greater_or_equal"
    LESS_OR_EQUAL = "less_or_equal"


class Bucket(StrEnum):
    NONE = "none"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


BUCKET_LABELS = {
    Bucket.DAY: "día",
    Bucket.WEEK: "semana",
    Bucket.MONTH: "mes",
    Bucket.QUARTER: "trimestre",
    Bucket.YEAR: "año",
}


class AggregateFunction(StrEnum):
    COUNT = "count"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"


AGGREGATE_LABELS = {
    AggregateFunction.COUNT: "Cantidad",
    AggregateFunction.SUM: "Suma",
    AggregateFunction.AVG: "Promedio",
    AggregateFunction.MIN: "Mínimo",
    AggregateFunction.MAX: "Máximo",
}

_RANGE = frozenset(
    {
        Operator.BETWEEN,
        Operator.GREATER_THAN,
        Operator.LESS_THAN,
        Operator.GREATER_OR_EQUAL,
        Operator.LESS_OR_EQUAL,
    }
)
_EQUALITY = frozenset({Operator.EQUALS, Operator.NOT_EQUALS, Operator.IN})
ALLOWED_OPERATORS: dict[FieldType, frozenset[Operator]] = {
    FieldType.STRING: _EQUALITY | {Operator.CONTAINS},
    FieldType.INTEGER: _EQUALITY | _RANGE,
    FieldType.MONEY: _EQUALITY | _RANGE,
    FieldType.DATE: _EQUALITY | _RANGE,
    FieldType.TIMESTAMP: _RANGE | {Operator.EQUALS, Operator.NOT_EQUALS},
    FieldType.BOOL: frozenset({Operator.EQUALS, Operator.NOT_EQUALS}),
    FieldType.DECIMAL: frozenset(),
}
LIST_OPERATORS = frozenset({Operator.CONTAINS, Operator.IN})


@dataclass(frozen=True)
class Filter:
    field: str
    operator: Operator | None
    values: tuple[str, ...]


@dataclass(frozen=True)
class Grouping:
    field: str
    bucket: Bucket = Bucket.NONE


@dataclass(frozen=True)
class Aggregate:
    function: AggregateFunction | None
    field: str = ""

    @property
    def key(self) -> str:
        return f"{self.function}({self.field})"


@dataclass(frozen=True)
class ReportSpec:
    """What a report computes (the part of a definition that is stored as JSON)."""

    module: str
    filters: tuple[Filter, ...] = ()
    groupings: tuple[Grouping, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    columns: tuple[str, ...] = ()
    order_by: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "filters": [
                {"field": f.field, "operator": str(f.operator), "values": list(f.values)} for f in self.filters
            ],
            "groupings": [{"field": g.field, "bucket": str(g.bucket)} for g in self.groupings],
            "aggregates": [{"function": str(a.function), "field": a.field} for a in self.aggregates],
            "columns": list(self.columns),
            "order_by": self.order_by,
        }

    @classmethod
    def from_json(cls, module: str, data: dict[str, Any]) -> ReportSpec:
        return cls(
            module=module,
            filters=tuple(
                Filter(f["field"], Operator(f["operator"]), tuple(f["values"])) for f in data.get("filters", [])
            ),
            groupings=tuple(Grouping(g["field"], Bucket(g["bucket"])) for g in data.get("groupings", [])),
            aggregates=tuple(
                Aggregate(AggregateFunction(a["function"]), a.get("field", "")) for a in data.get("aggregates", [])
            ),
            columns=tuple(data.get("columns", [])),
            order_by=data.get("order_by", ""),
        )


@dataclass(frozen=True)
class SavedReport:
    id: str
    name: str
    description: str
    spec: ReportSpec
    owner_id: str
    shared: bool
    # None in a draft read from a request (the store sets both when it adds the definition).
    created_at: datetime | None
    updated_at: datetime | None
    version: int


# ---- validated shapes (what the query builder reads) ----


@dataclass(frozen=True)
class CheckedFilter:
    field: ReportField
    operator: Operator
    # Parsed: str, int, Decimal (money, in major units), date, datetime (aware), bool. For a
    # timestamp field a bare date is kept as a date: the day in the report's time zone.
    values: tuple[Any, ...]


@dataclass(frozen=True)
class CheckedGrouping:
    field: ReportField
    bucket: Bucket

    @property
    def key(self) -> str:
        return self.field.name if self.bucket == Bucket.NONE else f"{self.bucket}({self.field.name})"

    @property
    def label(self) -> str:
        if self.bucket == Bucket.NONE:
            return self.field.label
        return f"{self.field.label} ({BUCKET_LABELS[self.bucket]})"


@dataclass(frozen=True)
class CheckedAggregate:
    function: AggregateFunction
    field: ReportField | None

    @property
    def key(self) -> str:
        return f"{self.function}({self.field.name if self.field else ''})"

    @property
    def label(self) -> str:
        base = AGGREGATE_LABELS[self.function]
        return base if self.field is None else f"{base} de {self.field.label.lower()}"


@dataclass(frozen=True)
class OrderTerm:
    key: str
    descending: bool


@dataclass(frozen=True)
class CheckedReport:
    module: ReportModule
    filters: tuple[CheckedFilter, ...]
    groupings: tuple[CheckedGrouping, ...]
    aggregates: tuple[CheckedAggregate, ...]
    # Listing reports: the fields shown.
    columns: tuple[ReportField, ...]
    order: tuple[OrderTerm, ...]
    time_zone: ZoneInfo
    # Grouped reports with a money aggregate also group by currency (when not already).
    by_currency: bool
    spec: ReportSpec

    @property
    def grouped(self) -> bool:
        return bool(self.groupings)


def check_time_zone(name: str, part: str = "time_zone") -> ZoneInfo:
    if not name:
        return ZoneInfo("UTC")
    try:
        if len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument.field(part, f"'{name}' is not an IANA time zone (such as America/Bogota)") from None


def _parse_value(f: ReportField, raw: str, part: str, problems: list[FieldViolation]) -> Any:
    text = raw.strip()
    try:
        if len(raw) > MAX_VALUE_LENGTH:
            raise ValueError(f"at most {MAX_VALUE_LENGTH} characters")
        if f.type == FieldType.STRING:
            if f.choices and raw not in f.choices:
                raise ValueError(f"'{raw}' is not one of {', '.join(f.choices)}")
            return raw
        if f.type == FieldType.INTEGER:
            if not text.lstrip("-").isdigit() or len(text) > 18:
                raise ValueError(f"'{raw}' is not a whole number")
            return int(text)
        if f.type == FieldType.MONEY:
            try:
                return parse_amount(text, part)
            except InvalidArgument:
                raise ValueError(f"'{raw}' is not a decimal amount") from None
        if f.type == FieldType.DATE:
            return _parse_date(raw, text)
        if f.type == FieldType.TIMESTAMP:
            return _parse_instant(raw, text)
        if f.type == FieldType.BOOL:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"'{raw}' is not true or false")
            return text.lower() == "true"
    except ValueError as exc:
        problems.append(FieldViolation(part, str(exc)))
        return None
    raise AssertionError(f.type)


def _parse_date(raw: str, text: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD)")


def _parse_instant(raw: str, text: str) -> date | datetime:
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    else:
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            value = None
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
    raise ValueError(f"'{raw}' is not an RFC 3339 time (2026-03-31T09:00:00-05:00) or a date (2026-03-31)")


def _check_filter(module: ReportModule, i: int, flt: Filter, problems: list[FieldViolation]) -> CheckedFilter | None:
    part = f"filters[{i}]"
    f = module.field(flt.field)
    if f is None:
        problems.append(FieldViolation(f"{part}.field", _unknown(flt.field, module)))
        return None
    if not f.filterable:
        problems.append(FieldViolation(f"{part}.field", f"'{f.name}' cannot be filtered on"))
        return None
    if flt.operator is None:
        problems.append(FieldViolation(f"{part}.operator", "name an operator"))
        return None
    allowed = LIST_OPERATORS if f.is_list else ALLOWED_OPERATORS[f.type]
    if flt.operator not in allowed:
        names = ", ".join(sorted(str(o) for o in allowed))
        problems.append(
            FieldViolation(
                f"{part}.operator", f"'{flt.operator}' does not apply to {f.type} field '{f.name}' (use {names})"
            )
        )
        return None
    n = len(flt.values)
    if flt.operator == Operator.IN and not 1 <= n <= MAX_IN_VALUES:
        problems.append(FieldViolation(f"{part}.values", f"in takes 1 to {MAX_IN_VALUES} values, got {n}"))
        return None
    if flt.operator == Operator.BETWEEN and n != 2:
        problems.append(FieldViolation(f"{part}.values", f"between takes two values (from, to), got {n}"))
        return None
    if flt.operator not in (Operator.IN, Operator.BETWEEN) and n != 1:
        problems.append(FieldViolation(f"{part}.values", f"{flt.operator} takes one value, got {n}"))
        return None
    before = len(problems)
    if f.is_list or flt.operator == Operator.CONTAINS:
        values: list[Any] = []
        for j, v in enumerate(flt.values):
            if not v.strip() or len(v) > MAX_VALUE_LENGTH:
                problems.append(FieldViolation(f"{part}.values[{j}]", f"must be 1 to {MAX_VALUE_LENGTH} characters"))
            values.append(v.strip() if f.is_list else v)
    else:
        values = [_parse_value(f, v, f"{part}.values[{j}]", problems) for j, v in enumerate(flt.values)]
    if len(problems) > before:
        return None
    return CheckedFilter(f, flt.operator, tuple(values))


def _unknown(name: str, module: ReportModule) -> str:
    return f"unknown field '{name}' for module {module.name}"


def check_report(spec: ReportSpec, time_zone: str = "", *, prefix: str = "") -> CheckedReport:
    """The definition checked against its module's fields, or InvalidArgument naming every bad
    part (prefixed with `prefix`, e.g. "report_definition.")."""
    module = MODULES.get(spec.module)
    if module is None:
        raise InvalidArgument.field(f"{prefix}module", f"unknown module '{spec.module}' (one of {', '.join(MODULES)})")
    problems: list[FieldViolation] = []
    for name, items, most in (
        ("filters", spec.filters, MAX_FILTERS),
        ("groupings", spec.groupings, MAX_GROUPINGS),
        ("aggregates", spec.aggregates, MAX_AGGREGATES),
        ("columns", spec.columns, MAX_COLUMNS),
    ):
        if len(items) > most:
            problems.append(FieldViolation(name, f"at most {most}"))
    if problems:
        raise _invalid(problems, prefix)
    filters = [_check_filter(module, i, f, problems) for i, f in enumerate(spec.filters)]
    groupings: list[CheckedGrouping] = []
    for i, g in enumerate(spec.groupings):
        f = module.field(g.field)
        if f is None:
            problems.append(FieldViolation(f"groupings[{i}].field", _unknown(g.field, module)))
        elif not f.groupable:
            problems.append(FieldViolation(f"groupings[{i}].field", f"'{f.name}' cannot be grouped on"))
        elif g.bucket != Bucket.NONE and not f.dated:
            problems.append(
                FieldViolation(
                    f"groupings[{i}].date_bucket",
                    f"'{g.bucket}' buckets only date and time fields; '{f.name}' is {f.type}",
                )
            )
        elif any(c.field.name == f.name and c.bucket == g.bucket for c in groupings):
            problems.append(FieldViolation(f"groupings[{i}]", f"'{f.name}' is grouped on twice"))
        else:
            groupings.append(CheckedGrouping(f, g.bucket))
    aggregates: list[CheckedAggregate] = []
    for i, a in enumerate(spec.aggregates):
        part = f"aggregates[{i}]"
        if a.function is None:
            problems.append(FieldViolation(f"{part}.function", "name a function (count, sum, avg, min, max)"))
            continue
        if a.function == AggregateFunction.COUNT:
            if a.field:
                problems.append(FieldViolation(f"{part}.field", "count counts records: leave the field empty"))
            else:
                aggregates.append(CheckedAggregate(a.function, None))
            continue
        f = module.field(a.field) if a.field else None
        if not a.field:
            problems.append(FieldViolation(f"{part}.field", f"{a.function} needs a number or money field"))
        elif f is None:
            problems.append(FieldViolation(f"{part}.field", _unknown(a.field, module)))
        elif not f.aggregatable:
            problems.append(
                FieldViolation(
                    f"{part}.field", f"'{f.name}' is a {f.type} field; {a.function} needs a number or money field"
                )
            )
        else:
            aggregates.append(CheckedAggregate(a.function, f))
    columns: list[ReportField] = []
    for i, name in enumerate(spec.columns):
        f = module.field(name)
        if f is None:
            problems.append(FieldViolation(f"columns[{i}]", _unknown(name, module)))
        else:
            columns.append(f)
    if problems:
        raise _invalid(problems, prefix)
    grouped = bool(groupings)
    by_currency = grouped and any(a.field is not None and a.field.type == FieldType.MONEY for a in aggregates)
    if by_currency and any(g.field.name == "currency_code" for g in groupings):
        by_currency = False
    if grouped:
        keys = [g.key for g in groupings] + (["currency_code"] if by_currency else []) + [a.key for a in aggregates]
    else:
        columns = columns or [module.fields[n] for n in module.default_columns]
        keys = [c.name for c in columns] + [n for n in module.fields]
    order = _check_order(spec.order_by, keys, module, grouped, problems)
    if problems:
        raise _invalid(problems, prefix)
    zone = check_time_zone(time_zone)
    return CheckedReport(
        module=module,
        filters=tuple(f for f in filters if f is not None),
        groupings=tuple(groupings),
        aggregates=tuple(aggregates),
        columns=tuple(columns),
        order=order,
        time_zone=zone,
        by_currency=by_currency,
        spec=spec,
    )


def _check_order(
    text: str, keys: list[str], module: ReportModule, grouped: bool, problems: list[FieldViolation]
) -> tuple[OrderTerm, ...]:
    if not text.strip():
        if grouped:
            return ()
        text = module.default_order
    terms: list[OrderTerm] = []
    for raw in text.split(","):
        words = raw.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            problems.append(FieldViolation("order_by", f"'{raw.strip()}' is not 'field' or 'field desc'"))
            continue
        key = words[0]
        if key not in keys:
            what = "a column of this grouped report" if grouped else f"a field of module {module.name}"
            problems.append(FieldViolation("order_by", f"'{key}' is not {what}"))
            continue
        terms.append(OrderTerm(key, len(words) == 2 and words[1].lower() == "desc"))
    return tuple(terms)


def _invalid(problems: list[FieldViolation], prefix: str) -> InvalidArgument:
    return InvalidArgument([FieldViolation(f"{prefix}{p.field}", p.description) for p in problems])


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a day starts in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
