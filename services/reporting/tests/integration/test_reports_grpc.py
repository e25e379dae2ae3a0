"""Reports over real gRPC on SQLite and PostgreSQL: runs of grouped and listing reports with
figures computed by hand (group by owner and month in a time zone, sums and averages per currency,
counts), every filter operator, the owner scope, pagination and data_time; bad definitions named
part by part; saved definitions (request ids, visibility, versions, masks, delete)."""

from __future__ import annotations

from datetime import date
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import types_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.errors import ErrorInfo
from crm_platform.grpc_client import decode_error

from .reports_world import ANA, BETO, DATA_TIME, NOW, ReportsWorld, rid, world_fixture  # noqa: F401

DEALS = pb.REPORT_MODULE_DEALS


def _error(call: Any, request: Any) -> ErrorInfo:
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=10)
    return decode_error(err.value)


def _value(cell: pb.Cell) -> Any:
    which = cell.WhichOneof("value")
    if which is None:
        return None
    v = getattr(cell, which)
    if which == "money_value":
        return (v.amount, v.currency_code)
    if which == "date_value":
        return date(v.year, v.month, v.day)
    if which == "timestamp_value":
        return v.ToDatetime().isoformat()
    return v


def _rows(res: pb.RunReportResponse) -> list[list[Any]]:
    return [[_value(c) for c in row.cells] for row in res.rows]


def _f(field: str, op: str, *values: str) -> pb.ReportFilter:
    return pb.ReportFilter(field=field, operator=pb.FilterOperator.Value(f"FILTER_OPERATOR_{op}"), values=values)


def _titles(world: ReportsWorld, *filters: pb.ReportFilter, owners: tuple[str, ...] = ()) -> list[str]:
    res = world.run(
        pb.ReportDefinition(module=DEALS, filters=filters, columns=["title"], order_by="title"), owner_ids=owners
    )
    return [r[0] for r in _rows(res)]


def _grouped_by_owner_month(world: ReportsWorld, time_zone: str) -> pb.RunReportResponse:
    definition = pb.ReportDefinition(
        module=DEALS,
        groupings=[
            pb.GroupBy(field="owner_id"),
            pb.GroupBy(field="create_time", date_bucket=pb.DATE_BUCKET_MONTH),
        ],
        aggregates=[
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_SUM, field="amount"),
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_COUNT),
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_AVG, field="amount"),
        ],
    )
    return world.run(definition, time_zone=time_zone)


def test_a_report_grouped_by_owner_and_month_sums_per_currency_in_the_time_zone(world: ReportsWorld) -> None:
    res = _grouped_by_owner_month(world, "America/Bogota")
    assert [(c.key, c.type) for c in res.columns] == [
        ("owner_id", pb.COLUMN_TYPE_STRING),
        ("month(create_time)", pb.COLUMN_TYPE_DATE),
        ("currency_code", pb.COLUMN_TYPE_STRING),
        ("sum(amount)", pb.COLUMN_TYPE_MONEY),
        ("count()", pb.COLUMN_TYPE_INTEGER),
        ("avg(amount)", pb.COLUMN_TYPE_MONEY),
    ]
    assert [c.label for c in res.columns][:2] == ["Responsable", "Creado (mes)"]
    # Bogotá: deal 2 (Feb 1 03:00 UTC) is January, deal 5 (Mar 1 04:59 UTC) is February; the
    # deleted deal is not counted. Beto's average 200.99 / 2 = 100.495 rounds half-up to 100.50.
    assert _rows(res) == [
        [ANA, date(2026, 1, 1), "USD", ("150.50", "USD"), 2, ("75.25", "USD")],
        [ANA, date(2026, 2, 1), "COP", ("1000000", "COP"), 1, ("1000000", "COP")],
        [BETO, date(2026, 2, 1), "USD", ("200.99", "USD"), 2, ("100.50", "USD")],
    ]
    assert res.total_row_count == 3 and res.next_page_token == ""
    assert res.data_time.ToDatetime().replace(tzinfo=DATA_TIME.tzinfo) == DATA_TIME


def test_the_same_report_in_utc_puts_the_midnight_deals_in_the_next_month(world: ReportsWorld) -> None:
    assert _rows(_grouped_by_owner_month(world, "UTC")) == [
        [ANA, date(2026, 1, 1), "USD", ("100.00", "USD"), 1, ("100.00", "USD")],
        [ANA, date(2026, 2, 1), "COP", ("1000000", "COP"), 1, ("1000000", "COP")],
        [ANA, date(2026, 2, 1), "USD", ("50.50", "USD"), 1, ("50.50", "USD")],
        [BETO, date(2026, 2, 1), "USD", ("200.00", "USD"), 1, ("200.00", "USD")],
        [BETO, date(2026, 3, 1), "USD", ("0.99", "USD"), 1, ("0.99", "USD")],
    ]


def test_grouped_pages_carry_the_total_and_follow_the_order(world: ReportsWorld) -> None:
    definition = pb.ReportDefinition(
        module=DEALS,
        groupings=[pb.GroupBy(field="status")],
        aggregates=[
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_COUNT),
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_MAX, field="probability"),
        ],
        order_by="count() desc",
    )
    first = world.run(definition, page_size=2)
    assert _rows(first) == [["open", 3, 50], ["lost", 1, 50]]
    assert first.total_row_count == 3 and first.next_page_token
    second = world.run(definition, page_size=2, page_token=first.next_page_token)
    assert _rows(second) == [["won", 1, 50]] and second.next_page_token == ""
    other = pb.ReportDefinition(module=DEALS, groupings=[pb.GroupBy(field="owner_id")])
    info = _error(world.stub.RunReport, pb.RunReportRequest(report_definition=other, page_token=first.next_page_token))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in info.message


def test_a_listing_report_has_typed_cells_and_pages(world: ReportsWorld) -> None:
    definition = pb.ReportDefinition(
        module=DEALS,
        columns=["title", "amount", "expected_close_date", "create_time", "probability"],
        order_by="amount desc",
    )
    first = world.run(definition, page_size=3)
    assert [c.type for c in first.columns] == [
        pb.COLUMN_TYPE_STRING,
        pb.COLUMN_TYPE_MONEY,
        pb.COLUMN_TYPE_DATE,
        pb.COLUMN_TYPE_TIMESTAMP,
        pb.COLUMN_TYPE_INTEGER,
    ]
    # Money orders by currency, then amount: COP first, then USD from the largest.
    assert _rows(first) == [
        ["Consultoría_50%", ("1000000", "COP"), date(2026, 2, 10), "2026-02-15T15:00:00", 50],
        ["Equipos", ("200.00", "USD"), date(2026, 2, 20), "2026-02-20T10:00:00", 50],
        ["Licencias Norte", ("100.00", "USD"), date(2026, 1, 15), "2026-01-10T12:00:00", 50],
    ]
    assert first.total_row_count == 5
    second = world.run(definition, page_size=3, page_token=first.next_page_token)
    assert [r[0] for r in _rows(second)] == ["Soporte anual", "Muestra"]
    assert _rows(second)[1][2] is None  # no expected close date: an empty cell
    assert second.next_page_token == ""


def test_every_filter_operator(world: ReportsWorld) -> None:
    assert _titles(world, _f("status", "EQUALS", "open")) == ["Consultoría_50%", "Muestra", "Soporte anual"]
    assert _titles(world, _f("status", "NOT_EQUALS", "open")) == ["Equipos", "Licencias Norte"]
    assert _titles(world, _f("owner_id", "IN", BETO, rid(999))) == ["Equipos", "Muestra"]
    # Case-insensitive, and % and _ are literal characters, not wildcards.
    assert _titles(world, _f("title", "CONTAINS", "LICENCIAS")) == ["Licencias Norte"]
    assert _titles(world, _f("title", "CONTAINS", "_50%")) == ["Consultoría_50%"]
    assert _titles(world, _f("title", "CONTAINS", "a_u")) == []
    assert _titles(world, _f("expected_close_date", "BETWEEN", "2026-01-31", "2026-02-10")) == [
        "Consultoría_50%",
        "Soporte anual",
    ]
    # Money compares in each row's currency: 100 USD is not greater than 100; 1,000,000 COP is.
    assert _titles(world, _f("amount", "GREATER_THAN", "100")) == ["Consultoría_50%", "Equipos"]
    assert _titles(world, _f("amount", "GREATER_OR_EQUAL", "100")) == ["Consultoría_50%", "Equipos", "Licencias Norte"]
    assert _titles(world, _f("amount", "LESS_THAN", "1")) == ["Muestra"]
    assert _titles(world, _f("amount", "LESS_OR_EQUAL", "50.5")) == ["Muestra", "Soporte anual"]
    assert _titles(world, _f("amount", "EQUALS", "50.50")) == ["Soporte anual"]
    assert _titles(world, _f("amount", "EQUALS", "50.505")) == []
    assert _titles(world, _f("probability", "GREATER_THAN", "49"), _f("status", "EQUALS", "won")) == ["Licencias Norte"]
    # A date on a timestamp field is that day in the report's zone (here UTC): Feb 1 03:00 UTC.
    assert _titles(world, _f("create_time", "BETWEEN", "2026-02-01", "2026-02-01")) == ["Soporte anual"]
    assert _titles(world, _f("create_time", "GREATER_THAN", "2026-02-20T10:00:00Z")) == ["Muestra"]
    assert _titles(world, _f("create_time", "LESS_THAN", "2026-01-31")) == ["Licencias Norte"]


def test_a_run_reads_only_the_owners_it_is_given(world: ReportsWorld) -> None:
    assert _titles(world, owners=(ANA,)) == ["Consultoría_50%", "Licencias Norte", "Soporte anual"]
    assert _titles(world, owners=(BETO,)) == ["Equipos", "Muestra"]
    assert _titles(world, owners=(rid(998),)) == []
    info = _error(
        world.stub.RunReport,
        pb.RunReportRequest(report_definition=pb.ReportDefinition(module=DEALS), owner_ids=[""]),
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_definitions_are_invalid_argument_naming_the_part(world: ReportsWorld) -> None:
    cases = [
        (pb.ReportDefinition(), "report_definition.module"),
        (pb.ReportDefinition(module=DEALS, filters=[_f("foo", "EQUALS", "x")]), "report_definition.filters[0].field"),
        (
            pb.ReportDefinition(module=DEALS, filters=[_f("status", "EQUALS", "open"), _f("amount", "CONTAINS", "1")]),
            "report_definition.filters[1].operator",
        ),
        (
            pb.ReportDefinition(module=DEALS, filters=[pb.ReportFilter(field="title", operator=42, values=["x"])]),
            "report_definition.filters[0].operator",
        ),
        (
            pb.ReportDefinition(module=DEALS, filters=[_f("expected_close_date", "GREATER_THAN", "mañana")]),
            "report_definition.filters[0].values[0]",
        ),
        (
            pb.ReportDefinition(
                module=DEALS,
                groupings=[pb.GroupBy(field="owner_id")],
                aggregates=[pb.Aggregate(function=pb.AGGREGATE_FUNCTION_SUM, field="title")],
            ),
            "report_definition.aggregates[0].field",
        ),
        (
            pb.ReportDefinition(module=DEALS, groupings=[pb.GroupBy(field="title", date_bucket=pb.DATE_BUCKET_WEEK)]),
            "report_definition.groupings[0].date_bucket",
        ),
    ]
    for definition, part in cases:
        info = _error(world.stub.RunReport, pb.RunReportRequest(report_definition=definition))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT, part
        assert [v.field for v in info.violations] == [part], info.violations
        assert part in info.message
    info = _error(
        world.stub.RunReport,
        pb.RunReportRequest(report_definition=pb.ReportDefinition(module=DEALS), time_zone="Nowhere/City"),
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "time_zone"


def _definition(name: str, owner: str, shared: bool = False) -> pb.ReportDefinition:
    return pb.ReportDefinition(
        name=name,
        description="Ventas por responsable",
        module=DEALS,
        owner_id=owner,
        shared=shared,
        groupings=[pb.GroupBy(field="owner_id")],
        aggregates=[pb.Aggregate(function=pb.AGGREGATE_FUNCTION_COUNT)],
    )


def test_saved_definitions_are_created_once_listed_by_visibility_updated_by_version_and_deleted(
    world: ReportsWorld,
) -> None:
    stub = world.stub
    owner, other = rid(700 + hash(world.backend) % 50), rid(800 + hash(world.backend) % 50)
    req = pb.CreateReportDefinitionRequest(report_definition=_definition("Mis ventas", owner), request_id="r-1")
    created = stub.CreateReportDefinition(req, timeout=10).report_definition
    again = stub.CreateReportDefinition(req, timeout=10).report_definition
    assert again == created and created.version == 1 and created.owner_id == owner
    assert created.create_time.ToDatetime().replace(tzinfo=NOW.tzinfo) == NOW
    shared = stub.CreateReportDefinition(
        pb.CreateReportDefinitionRequest(report_definition=_definition("Del equipo", other, shared=True)), timeout=10
    ).report_definition
    private = stub.CreateReportDefinition(
        pb.CreateReportDefinitionRequest(report_definition=_definition("Privado", other)), timeout=10
    ).report_definition

    def listed(**kw: Any) -> set[str]:
        res = stub.ListReportDefinitions(pb.ListReportDefinitionsRequest(**kw), timeout=10)
        return {d.id for d in res.report_definitions}

    assert listed(owner_ids=[owner]) == {created.id}
    assert listed(owner_ids=[owner], include_shared=True) >= {created.id, shared.id}
    assert private.id not in listed(owner_ids=[owner], include_shared=True)
    assert listed(owner_ids=[other], query="EQUIPO") == {shared.id}

    got = stub.GetReportDefinition(pb.GetReportDefinitionRequest(id=created.id), timeout=10).report_definition
    assert got == created
    # The saved definition runs by id.
    run = stub.RunReport(pb.RunReportRequest(report_definition_id=created.id, owner_ids=[ANA]), timeout=10)
    assert _rows(run) == [[ANA, 3]]

    change = pb.ReportDefinition(id=created.id, name="Ventas (renombrado)", shared=True)
    updated = stub.UpdateReportDefinition(
        pb.UpdateReportDefinitionRequest(
            report_definition=change, update_mask=FieldMask(paths=["name", "shared"]), expected_version=1
        ),
        timeout=10,
    ).report_definition
    assert (updated.name, updated.shared, updated.version) == ("Ventas (renombrado)", True, 2)
    assert list(updated.groupings) == list(created.groupings)
    stale = _error(
        stub.UpdateReportDefinition,
        pb.UpdateReportDefinitionRequest(
            report_definition=change, update_mask=FieldMask(paths=["name"]), expected_version=1
        ),
    )
    assert stale.code == grpc.StatusCode.ABORTED
    bad = _error(
        stub.UpdateReportDefinition,
        pb.UpdateReportDefinitionRequest(
            report_definition=pb.ReportDefinition(id=created.id, module=DEALS, groupings=[pb.GroupBy(field="nada")]),
            update_mask=FieldMask(paths=["module", "groupings"]),
        ),
    )
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad.violations] == ["report_definition.groupings[0].field"]
    immutable = _error(
        stub.UpdateReportDefinition,
        pb.UpdateReportDefinitionRequest(report_definition=change, update_mask=FieldMask(paths=["owner_id"])),
    )
    assert immutable.code == grpc.StatusCode.INVALID_ARGUMENT
    still = stub.GetReportDefinition(pb.GetReportDefinitionRequest(id=created.id), timeout=10).report_definition
    assert still == updated  # nothing changed by the refused updates
    refiltered = stub.UpdateReportDefinition(
        pb.UpdateReportDefinitionRequest(
            report_definition=pb.ReportDefinition(id=created.id, filters=[_f("status", "EQUALS", "open")]),
            update_mask=FieldMask(paths=["filters"]),
            expected_version=2,
        ),
        timeout=10,
    ).report_definition
    assert (refiltered.version, refiltered.module, refiltered.name) == (3, DEALS, "Ventas (renombrado)")
    assert [(f.field, list(f.values)) for f in refiltered.filters] == [("status", ["open"])]

    invalid = _error(
        stub.CreateReportDefinition,
        pb.CreateReportDefinitionRequest(
            report_definition=pb.ReportDefinition(name="x", module=DEALS, owner_id=owner, columns=["nada"])
        ),
    )
    assert [v.field for v in invalid.violations] == ["report_definition.columns[0]"]
    nameless = _error(
        stub.CreateReportDefinition,
        pb.CreateReportDefinitionRequest(report_definition=pb.ReportDefinition(module=DEALS, owner_id=owner)),
    )
    assert [v.field for v in nameless.violations] == ["report_definition.name"]
    assert listed(owner_ids=[owner]) == {created.id}

    stub.DeleteReportDefinition(pb.DeleteReportDefinitionRequest(id=created.id), timeout=10)
    gone = _error(stub.GetReportDefinition, pb.GetReportDefinitionRequest(id=created.id))
    assert gone.code == grpc.StatusCode.NOT_FOUND
    gone = _error(stub.RunReport, pb.RunReportRequest(report_definition_id=created.id))
    assert gone.code == grpc.StatusCode.NOT_FOUND


def test_money_cells_keep_the_currency_of_their_row(world: ReportsWorld) -> None:
    res = world.run(
        pb.ReportDefinition(
            module=pb.REPORT_MODULE_QUOTES, columns=["number", "total", "valid_until"], order_by="number"
        )
    )
    assert _rows(res) == [["COT-2026-0001", ("1234.56", "USD"), date(2026, 3, 31)]]
    assert res.rows[0].cells[1].money_value == types_pb2.Money(amount="1234.56", currency_code="USD")
