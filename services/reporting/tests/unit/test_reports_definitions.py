"""Report definitions against the field catalogue: each kind of mistake is an InvalidArgument that
names the part (never an SQL error), and the checked report says how money is grouped. Date
buckets in a time zone around midnight and daylight-saving changes, on an in-memory SQLite database
(the same statements the service runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm_platform.db import Database
from crm_platform.errors import InvalidArgument
from crm_reporting.adapters import tables
from crm_reporting.adapters.report_query import build, data_span, offset_changes
from crm_reporting.domain.report_catalogue import MODULES, FieldType
from crm_reporting.domain.report_definitions import (
    Aggregate,
    AggregateFunction,
    Bucket,
    Filter,
    Grouping,
    Operator,
    ReportSpec,
    check_report,
)

COUNT = Aggregate(AggregateFunction.COUNT)


def _violations(spec: ReportSpec, time_zone: str = "") -> dict[str, str]:
    with pytest.raises(InvalidArgument) as err:
        check_report(spec, time_zone, prefix="report_definition.")
    return {v.field: v.description for v in err.value.violations}


@pytest.mark.parametrize(
    ("spec", "part", "words"),
    [
        (ReportSpec("ventas"), "report_definition.module", "unknown module 'ventas'"),
        (
            ReportSpec(
                "deals", filters=(Filter("amount", Operator.EQUALS, ("1",)), Filter("foo", Operator.EQUALS, ("x",)))
            ),
            "report_definition.filters[1].field",
            "unknown field 'foo' for module deals",
        ),
        (
            ReportSpec("deals", filters=(Filter("title", None, ("x",)),)),
            "report_definition.filters[0].operator",
            "name an operator",
        ),
        (
            ReportSpec("deals", filters=(Filter("title", Operator.GREATER_THAN, ("x",)),)),
            "report_definition.filters[0].operator",
            "'greater_than' does not apply to string field 'title'",
        ),
        (
            ReportSpec("deals", filters=(Filter("amount", Operator.CONTAINS, ("1",)),)),
            "report_definition.filters[0].operator",
            "'contains' does not apply to money field 'amount'",
        ),
        (
            ReportSpec("deals", filters=(Filter("amount", Operator.GREATER_THAN, ("mucho",)),)),
            "report_definition.filters[0].values[0]",
            "'mucho' is not a decimal amount",
        ),
        (
            ReportSpec(
                "deals", filters=(Filter("expected_close_date", Operator.BETWEEN, ("2026-01-01", "31/01/2026")),)
            ),
            "report_definition.filters[0].values[1]",
            "'31/01/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            ReportSpec("deals", filters=(Filter("expected_close_date", Operator.BETWEEN, ("2026-01-01",)),)),
            "report_definition.filters[0].values",
            "between takes two values",
        ),
        (
            ReportSpec("deals", filters=(Filter("probability", Operator.EQUALS, ("10.5",)),)),
            "report_definition.filters[0].values[0]",
            "'10.5' is not a whole number",
        ),
        (
            ReportSpec("deals", filters=(Filter("status", Operator.EQUALS, ("ganado",)),)),
            "report_definition.filters[0].values[0]",
            "'ganado' is not one of open, won, lost",
        ),
        (
            ReportSpec("activities", filters=(Filter("due_time", Operator.GREATER_THAN, ("mañana",)),)),
            "report_definition.filters[0].values[0]",
            "is not an RFC 3339 time",
        ),
        (
            ReportSpec("clients", filters=(Filter("archived", Operator.EQUALS, ("sí",)),)),
            "report_definition.filters[0].values[0]",
            "'sí' is not true or false",
        ),
        (
            ReportSpec(
                "deals", groupings=(Grouping("owner_id"),), aggregates=(Aggregate(AggregateFunction.SUM, "title"),)
            ),
            "report_definition.aggregates[0].field",
            "'title' is a string field; sum needs a number or money field",
        ),
        (
            ReportSpec(
                "deals", groupings=(Grouping("owner_id"),), aggregates=(Aggregate(AggregateFunction.AVG, "nada"),)
            ),
            "report_definition.aggregates[0].field",
            "unknown field 'nada' for module deals",
        ),
        (
            ReportSpec("deals", groupings=(Grouping("owner_id"),), aggregates=(Aggregate(None),)),
            "report_definition.aggregates[0].function",
            "name a function",
        ),
        (
            ReportSpec("deals", groupings=(Grouping("title", Bucket.MONTH),)),
            "report_definition.groupings[0].date_bucket",
            "'month' buckets only date and time fields; 'title' is string",
        ),
        (
            ReportSpec("deals", groupings=(Grouping("amount"),)),
            "report_definition.groupings[0].field",
            "'amount' cannot be grouped on",
        ),
        (ReportSpec("deals", columns=("title", "precio")), "report_definition.columns[1]", "unknown field 'precio'"),
        (
            ReportSpec("deals", order_by="title sideways"),
            "report_definition.order_by",
            "is not 'field' or 'field desc'",
        ),
        (ReportSpec("deals", order_by="color"), "report_definition.order_by", "'color' is not a field of module deals"),
        (
            ReportSpec("products", filters=(Filter("unit_price", Operator.GREATER_THAN, ("1",)),)),
            "report_definition.filters[0].field",
            "'unit_price' cannot be filtered on",
        ),
    ],
)
def test_each_bad_definition_is_invalid_argument_naming_the_part(spec: ReportSpec, part: str, words: str) -> None:
    problems = _violations(spec)
    assert part in problems, problems
    assert words in problems[part]


def test_every_mistake_of_a_definition_is_reported_at_once() -> None:
    spec = ReportSpec(
        "deals",
        filters=(Filter("foo", Operator.EQUALS, ("x",)), Filter("amount", Operator.LESS_THAN, ("x",))),
        groupings=(Grouping("bar"),),
    )
    assert set(_violations(spec)) == {
        "report_definition.filters[0].field",
        "report_definition.filters[1].values[0]",
        "report_definition.groupings[0].field",
    }


def test_an_unknown_time_zone_is_named() -> None:
    problems = _violations(ReportSpec("deals"), "Mars/Olympus")
    assert problems == {"time_zone": "'Mars/Olympus' is not an IANA time zone (such as America/Bogota)"}


def test_money_aggregates_are_grouped_by_currency_unless_already() -> None:
    by_owner = check_report(
        ReportSpec("deals", groupings=(Grouping("owner_id"),), aggregates=(Aggregate(AggregateFunction.SUM, "amount"),))
    )
    assert by_owner.by_currency
    already = check_report(
        ReportSpec(
            "deals",
            groupings=(Grouping("currency_code"),),
            aggregates=(Aggregate(AggregateFunction.SUM, "amount"),),
        )
    )
    assert not already.by_currency
    counts = check_report(ReportSpec("deals", groupings=(Grouping("owner_id"),), aggregates=(COUNT,)))
    assert not counts.by_currency


def test_every_module_has_a_table_and_typed_fields() -> None:
    for module in MODULES.values():
        table = tables.metadata.tables[module.table]
        for f in module.fields.values():
            assert f.column in table.c, (module.name, f.name)
            if f.type == FieldType.MONEY:
                assert f.currency_column in table.c
        assert all(c in module.fields for c in module.default_columns)
        check_report(ReportSpec(module.name))  # the default order is valid


def test_the_definition_round_trips_through_json() -> None:
    spec = ReportSpec(
        "deals",
        filters=(Filter("status", Operator.IN, ("open", "won")),),
        groupings=(Grouping("expected_close_date", Bucket.QUARTER),),
        aggregates=(COUNT, Aggregate(AggregateFunction.MAX, "amount")),
        columns=("title",),
        order_by="count() desc",
    )
    assert ReportSpec.from_json("deals", spec.to_json()) == spec


# ---- date buckets in a time zone ----


def test_offset_changes_of_a_daylight_saving_zone_are_found_to_the_second() -> None:
    zone = ZoneInfo("America/New_York")
    first, changes = offset_changes(zone, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    assert first == -5 * 3600
    assert changes == [
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), -4 * 3600),
        (datetime(2026, 11, 1, 6, 0, tzinfo=UTC), -5 * 3600),
    ]
    assert (
        offset_changes(ZoneInfo("America/Bogota"), datetime(2020, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))[
            1
        ]
        == []
    )


@pytest.fixture
def memory_db() -> Database:
    db = Database("sqlite://", "reporting")
    tables.metadata.create_all(db.engine)
    return db


def _activity(db: Database, due: datetime) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            sa.insert(tables.rm_activities).values(
                id=str(uuid.uuid4()), owner_id="u1", due_at=due, version=1, event_time=due
            )
        )


def _buckets(db: Database, bucket: Bucket, zone: str) -> dict[date, int]:
    report = check_report(
        ReportSpec("activities", groupings=(Grouping("due_time", bucket),), aggregates=(COUNT,)), zone
    )
    with db.read() as session:
        built = build(report, (), "sqlite", data_span(session, report, ()))
        return {row[0]: row[1] for row in (built.decode(r) for r in session.execute(built.statement))}


def test_day_week_month_quarter_and_year_buckets_follow_the_zone_at_midnight(memory_db: Database) -> None:
    # 2026-03-31 23:30 in Bogotá (UTC-5) is 2026-04-01 04:30 UTC: March and Q1 in Bogotá, April and Q2 in UTC.
    _activity(memory_db, datetime(2026, 4, 1, 4, 30, tzinfo=UTC))
    # 2026-04-01 00:30 in Bogotá.
    _activity(memory_db, datetime(2026, 4, 1, 5, 30, tzinfo=UTC))
    # 2026-12-31 22:00 in Bogotá = 2027-01-01 03:00 UTC.
    _activity(memory_db, datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    bogota = "America/Bogota"
    assert _buckets(memory_db, Bucket.DAY, bogota) == {date(2026, 3, 31): 1, date(2026, 4, 1): 1, date(2026, 12, 31): 1}
    assert _buckets(memory_db, Bucket.DAY, "UTC") == {date(2026, 4, 1): 2, date(2027, 1, 1): 1}
    assert _buckets(memory_db, Bucket.MONTH, bogota) == {date(2026, 3, 1): 1, date(2026, 4, 1): 1, date(2026, 12, 1): 1}
    assert _buckets(memory_db, Bucket.QUARTER, bogota) == {
        date(2026, 1, 1): 1,
        date(2026, 4, 1): 1,
        date(2026, 10, 1): 1,
    }
    assert _buckets(memory_db, Bucket.QUARTER, "UTC") == {date(2026, 4, 1): 2, date(2027, 1, 1): 1}
    assert _buckets(memory_db, Bucket.YEAR, bogota) == {date(2026, 1, 1): 3}
    assert _buckets(memory_db, Bucket.YEAR, "UTC") == {date(2026, 1, 1): 2, date(2027, 1, 1): 1}
    # ISO weeks start on Monday: Tuesday 2026-03-31 and Wednesday 2026-04-01 share the week of 2026-03-30.
    assert _buckets(memory_db, Bucket.WEEK, bogota) == {date(2026, 3, 30): 2, date(2026, 12, 28): 1}


def test_week_buckets_split_sunday_night_from_monday_morning_across_a_dst_change(memory_db: Database) -> None:
    ny = "America/New_York"
    # Sunday 2026-03-08 23:30 EDT (UTC-4, the day DST began) = 2026-03-09 03:30 UTC.
    _activity(memory_db, datetime(2026, 3, 9, 3, 30, tzinfo=UTC))
    # Monday 2026-03-09 00:30 EDT.
    _activity(memory_db, datetime(2026, 3, 9, 4, 30, tzinfo=UTC))
    # Saturday 2026-03-07 23:30 EST (UTC-5) = 2026-03-08 04:30 UTC.
    _activity(memory_db, datetime(2026, 3, 8, 4, 30, tzinfo=UTC))
    assert _buckets(memory_db, Bucket.WEEK, ny) == {date(2026, 3, 2): 2, date(2026, 3, 9): 1}
    assert _buckets(memory_db, Bucket.DAY, ny) == {date(2026, 3, 7): 1, date(2026, 3, 8): 1, date(2026, 3, 9): 1}
    assert _buckets(memory_db, Bucket.WEEK, "UTC") == {date(2026, 3, 2): 1, date(2026, 3, 9): 2}
