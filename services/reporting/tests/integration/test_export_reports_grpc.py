"""Report exports over real gRPC on SQLite and PostgreSQL: the Excel workbook (streamed in chunks)
read back with openpyxl — typed cells, currency formats, frozen header, autofilter, totals, the
"Filtros" sheet — and with LibreOffice when it is installed; the iCalendar file read back with the
icalendar library — each event's start, end, summary and UID, the same UIDs on a re-export — and
the refusals (a module without dates, a grouped report, an unknown date field)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import openpyxl
import pytest
from icalendar import Calendar

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.grpc_client import decode_error

from .reports_world import ACTIVITIES, ANA, BETO, CAMPAIGNS, ReportsWorld, rid, world_fixture  # noqa: F401

DEALS = pb.REPORT_MODULE_DEALS
BOGOTA = ZoneInfo("America/Bogota")


def _grouped() -> pb.ReportDefinition:
    return pb.ReportDefinition(
        module=DEALS,
        groupings=[pb.GroupBy(field="owner_id")],
        aggregates=[
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_COUNT),
            pb.Aggregate(function=pb.AGGREGATE_FUNCTION_SUM, field="amount"),
        ],
        filters=[pb.ReportFilter(field="status", operator=pb.FILTER_OPERATOR_NOT_EQUALS, values=["won"])],
    )


def _stream(world: ReportsWorld, **kw: Any) -> tuple[bytes, list[pb.ExportReportChunk]]:
    chunks = list(world.stub.StreamExportReport(pb.ExportReportRequest(**kw), timeout=30))
    return b"".join(c.content for c in chunks), chunks


def test_the_grouped_workbook_has_typed_cells_totals_and_a_filters_sheet(world: ReportsWorld, tmp_path: Path) -> None:
    content, chunks = _stream(
        world, report_definition=_grouped(), format=pb.EXPORT_FORMAT_XLSX, time_zone="America/Bogota"
    )
    assert chunks[0].content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert chunks[0].filename.startswith("informe-deals-") and chunks[0].filename.endswith(".xlsx")
    path = tmp_path / "grouped.xlsx"
    path.write_bytes(content)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Negocios", "Filtros"]
    ws = wb["Negocios"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:D4"
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    # Not won: Ana's open deals (USD 50.50; COP 1,000,000), Beto's (USD 200.00 + 0.99).
    assert rows == [
        ["Responsable", "Moneda", "Cantidad", "Suma de monto"],
        [ANA, "COP", 1, 1_000_000],
        [ANA, "USD", 1, 50.5],
        [BETO, "USD", 2, 200.99],
        ["Total COP", "COP", 1, 1_000_000],
        ["Total USD", "USD", 3, 251.49],
    ]
    assert ws["D2"].number_format == '#,##0 "COP"'
    assert ws["D3"].number_format == '#,##0.00 "USD"'
    assert ws["D6"].number_format == '#,##0.00 "USD"'
    assert ws["A1"].font.bold and ws["A6"].font.bold
    info = {r[0]: r[1] for r in wb["Filtros"].iter_rows(min_row=2, values_only=True)}
    assert info["Módulo"] == "Negocios"
    assert info["Zona horaria"] == "America/Bogota"
    assert info["Filtro 1"] == "Estado not_equals won"
    assert info["Agrupación 1"] == "Responsable"
    assert info["Cálculo 2"] == "Suma de monto"
    assert info["Datos al"] == "2026-03-10 06:59"  # 11:59:30 UTC in Bogotá
    assert info["Generado"] == "2026-03-10 07:00"


def test_the_listing_workbook_has_dates_times_in_the_zone_and_money(world: ReportsWorld, tmp_path: Path) -> None:
    definition = pb.ReportDefinition(
        module=DEALS, columns=["title", "amount", "expected_close_date", "create_time"], order_by="title"
    )
    content, _ = _stream(world, report_definition=definition, format=pb.EXPORT_FORMAT_XLSX, time_zone="America/Bogota")
    path = tmp_path / "list.xlsx"
    path.write_bytes(content)
    ws = openpyxl.load_workbook(path)["Negocios"]
    header = [c.value for c in ws[1]]
    assert header == ["Título", "Monto", "Fecha de cierre prevista", "Creado (America/Bogota)"]
    by_title = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert set(by_title) == {"Consultoría_50%", "Equipos", "Licencias Norte", "Muestra", "Soporte anual"}
    soporte = by_title["Soporte anual"]
    assert soporte[1].value == 50.5 and soporte[1].number_format == '#,##0.00 "USD"'
    assert soporte[2].is_date and soporte[2].value.date() == date(2026, 1, 31)
    assert soporte[2].number_format == "yyyy-mm-dd"
    # 2026-02-01 03:00 UTC is 2026-01-31 22:00 in Bogotá.
    assert soporte[3].is_date and soporte[3].value == datetime(2026, 1, 31, 22, 0)
    assert soporte[3].number_format == "yyyy-mm-dd h:mm:ss"
    assert by_title["Muestra"][2].value is None
    assert ws.auto_filter.ref == "A1:D6" and ws.freeze_panes == "A2"


def test_libreoffice_reads_the_workbook(world: ReportsWorld, tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip(
            "LibreOffice (soffice) is not installed (Debian package libreoffice-calc-nogui; .ci/run installs "
            "it): the headless CSV check is skipped"
        )
    content, _ = _stream(world, report_definition=_grouped(), format=pb.EXPORT_FORMAT_XLSX)
    path = tmp_path / "grouped.xlsx"
    path.write_bytes(content)
    subprocess.run(
        [soffice, "--headless", "--convert-to", "csv", "--outdir", str(tmp_path), str(path)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    rows = list(csv.reader(io.StringIO((tmp_path / "grouped.csv").read_text())))
    assert rows[0] == ["Responsable", "Moneda", "Cantidad", "Suma de monto"]
    assert rows[3][:3] == [BETO, "USD", "2"] and "200.99" in rows[3][3]


def _events(content: bytes) -> dict[str, Any]:
    cal = Calendar.from_ical(content)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_activities_become_timed_events_in_the_users_zone_with_stable_uids(world: ReportsWorld) -> None:
    definition = pb.ReportDefinition(module=pb.REPORT_MODULE_ACTIVITIES)
    res = world.stub.ExportReport(
        pb.ExportReportRequest(report_definition=definition, format=pb.EXPORT_FORMAT_ICS, time_zone="America/Bogota"),
        timeout=10,
    )
    assert res.content_type == "text/calendar" and res.filename.endswith(".ics")
    cal = Calendar.from_ical(res.content)
    assert str(cal["X-WR-TIMEZONE"]) == "America/Bogota"
    events = _events(res.content)
    assert set(events) == {f"activities-{rid(n)}@crm" for n, *_ in ACTIVITIES}
    for n, _owner, subject, _kind, due, seconds in ACTIVITIES:
        event = events[f"activities-{rid(n)}@crm"]
        start = event.decoded("DTSTART")
        assert start == due and start.tzinfo.key == "America/Bogota"  # type: ignore[union-attr]
        assert event["DTSTART"].params["TZID"] == "America/Bogota"
        assert str(event["SUMMARY"]) == subject
        if seconds:
            assert event.decoded("DTEND") - start == timedelta(seconds=seconds)
        else:
            assert "DTEND" not in event
        assert int(event["SEQUENCE"]) == 2
    again = world.stub.ExportReport(
        pb.ExportReportRequest(report_definition=definition, format=pb.EXPORT_FORMAT_ICS, owner_ids=[ANA]),
        timeout=10,
    )
    ana = _events(again.content)
    assert set(ana) == {f"activities-{rid(11)}@crm", f"activities-{rid(12)}@crm"} and set(ana) <= set(events)


def test_deals_and_campaigns_become_all_day_events(world: ReportsWorld) -> None:
    res = world.stub.ExportReport(
        pb.ExportReportRequest(
            report_definition=pb.ReportDefinition(module=DEALS), format=pb.EXPORT_FORMAT_ICS, owner_ids=[BETO]
        ),
        timeout=10,
    )
    events = _events(res.content)
    # Beto's "Muestra" has no expected close date: not on the calendar.
    assert list(events) == [f"deals-{rid(4)}@crm"]
    equipos = events[f"deals-{rid(4)}@crm"]
    assert equipos.decoded("DTSTART") == date(2026, 2, 20) and equipos.decoded("DTEND") == date(2026, 2, 21)
    assert str(equipos["SUMMARY"]) == "Equipos"
    res = world.stub.ExportReport(
        pb.ExportReportRequest(
            report_definition=pb.ReportDefinition(module=pb.REPORT_MODULE_CAMPAIGNS), format=pb.EXPORT_FORMAT_ICS
        ),
        timeout=10,
    )
    (n, _owner, name, start, end) = CAMPAIGNS[0]
    feria = _events(res.content)[f"campaigns-{rid(n)}@crm"]
    assert (feria.decoded("DTSTART"), feria.decoded("DTEND")) == (start, end + timedelta(days=1))
    assert str(feria["SUMMARY"]) == name
    # Another date field of the module may place the events instead.
    res = world.stub.ExportReport(
        pb.ExportReportRequest(
            report_definition=pb.ReportDefinition(module=DEALS),
            format=pb.EXPORT_FORMAT_ICS,
            owner_ids=[BETO],
            date_field="create_time",
        ),
        timeout=10,
    )
    assert set(_events(res.content)) == {f"deals-{rid(4)}@crm", f"deals-{rid(5)}@crm"}


def test_calendar_refusals(world: ReportsWorld) -> None:
    def refused(**kw: Any) -> Any:
        with pytest.raises(grpc.RpcError) as err:
            world.stub.ExportReport(pb.ExportReportRequest(format=pb.EXPORT_FORMAT_ICS, **kw), timeout=10)
        return decode_error(err.value)

    info = refused(report_definition=pb.ReportDefinition(module=pb.REPORT_MODULE_CLIENTS))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "report_not_dated"
    info = refused(report_definition=_grouped())
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "grouped_report_not_dated"
    info = refused(report_definition=pb.ReportDefinition(module=DEALS), date_field="title")
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    info = refused(report_definition=pb.ReportDefinition(module=DEALS), date_field="nada")
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "date_field"
    # The streamed export refuses the same way, before sending anything.
    with pytest.raises(grpc.RpcError) as err:
        list(
            world.stub.StreamExportReport(
                pb.ExportReportRequest(
                    report_definition=pb.ReportDefinition(module=DEALS, columns=["nada"]),
                    format=pb.EXPORT_FORMAT_XLSX,
                ),
                timeout=10,
            )
        )
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in info.violations] == ["report_definition.columns[0]"]
