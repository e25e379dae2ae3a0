"""The export writers on their own: currency number formats by minor unit, a workbook's typed cells
and per-currency totals, and calendar events (all-day spans, timed events in a zone, stable UIDs)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import grpc
import openpyxl
import pytest
from icalendar import Calendar

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.money import Money
from crm_reporting.adapters.ics_export import CalendarItem, write_calendar
from crm_reporting.adapters.report_query import OutputColumn
from crm_reporting.adapters.xlsx_export import Description, money_format, write_workbook
from crm_reporting.domain.report_catalogue import FieldType
from crm_reporting.entrypoints.report_rpcs import ReportRpcs


def test_money_formats_follow_the_currency_minor_unit() -> None:
    assert money_format("USD") == '#,##0.00 "USD"'
    assert money_format("CLP") == '#,##0 "CLP"'
    assert money_format("KWD") == '#,##0.000 "KWD"'


def test_a_grouped_workbook_totals_each_currency_apart() -> None:
    columns = [
        OutputColumn("owner_id", "Responsable", FieldType.STRING),
        OutputColumn("currency_code", "Moneda", FieldType.STRING),
        OutputColumn("count()", "Cantidad", FieldType.INTEGER),
        OutputColumn("sum(amount)", "Suma de monto", FieldType.MONEY),
        OutputColumn("max(amount)", "Máximo de monto", FieldType.MONEY),
        OutputColumn("avg(probability)", "Promedio de probabilidad", FieldType.DECIMAL),
    ]
    rows = [
        ["a", "KWD", 2, Money(Decimal("1.250"), "KWD"), Money(Decimal("1.000"), "KWD"), Decimal("12.5")],
        ["a", "USD", 1, Money(Decimal("10.10"), "USD"), Money(Decimal("10.10"), "USD"), Decimal("50")],
        ["b", "USD", 3, Money(Decimal("0.20"), "USD"), Money(Decimal("0.10"), "USD"), None],
    ]
    out = io.BytesIO()
    n = write_workbook(
        out, columns, rows, zone=ZoneInfo("UTC"), grouped=True, description=Description("Prueba", [("Módulo", "x")])
    )
    assert n == 3
    wb = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    ws = wb.worksheets[0]
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[1:] == [
        ["a", "KWD", 2, 1.25, 1, 12.5],
        ["a", "USD", 1, 10.1, 10.1, 50],
        ["b", "USD", 3, 0.2, 0.1, None],
        ["Total KWD", "KWD", 2, 1.25, 1, None],
        ["Total USD", "USD", 4, 10.3, 10.1, None],
    ]
    assert ws["D2"].number_format == '#,##0.000 "KWD"' and ws["D6"].number_format == '#,##0.00 "USD"'
    assert ws.auto_filter.ref == "A1:F4"
    assert [r for r in wb["Filtros"].iter_rows(values_only=True)] == [("Prueba", None), ("Módulo", "x")]


def test_calendar_items_become_all_day_or_timed_events() -> None:
    out = io.BytesIO()
    stamp = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    items = [
        CalendarItem("campaigns-1@crm", "Feria", date(2026, 4, 1), date(2026, 4, 3), sequence=4),
        CalendarItem("deals-2@crm", "Cierre", date(2026, 4, 1)),
        # 23:30 UTC on the 31st is 18:30 in Bogotá.
        CalendarItem(
            "activities-3@crm",
            "Llamada",
            datetime(2026, 3, 31, 23, 30, tzinfo=UTC),
            datetime(2026, 4, 1, 0, 0, tzinfo=UTC),
        ),
    ]
    assert write_calendar(out, items, zone=ZoneInfo("America/Bogota"), name="Agenda", stamp=stamp) == 3
    cal = Calendar.from_ical(out.getvalue())
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["America/Bogota"]
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    feria = events["campaigns-1@crm"]
    assert (feria.decoded("DTSTART"), feria.decoded("DTEND")) == (date(2026, 4, 1), date(2026, 4, 4))
    assert int(feria["SEQUENCE"]) == 4
    assert events["deals-2@crm"].decoded("DTEND") == date(2026, 4, 2)
    call = events["activities-3@crm"]
    assert call.decoded("DTSTART") == datetime(2026, 3, 31, 18, 30, tzinfo=ZoneInfo("America/Bogota"))
    assert call["DTSTART"].to_ical() == b"20260331T183000"
    assert call.decoded("DTEND") - call.decoded("DTSTART") == (items[2].end - items[2].start)  # type: ignore[operator]
    assert all(e.decoded("DTSTAMP") == stamp for e in events.values())


class _Refused(Exception):
    pass


class _Context:
    def __init__(self, token: str):
        self.token = token

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [("x-crm-internal-token", self.token)] if self.token else []

    def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise _Refused(code, message)


def test_the_streamed_export_refuses_a_call_without_the_internal_token() -> None:
    # The platform's interceptor checks unary calls only: the streaming RPC checks it itself.
    rpcs = ReportRpcs()
    rpcs._report_internal_token = b"secret"  # type: ignore[attr-defined]
    for token in ("", "wrong"):
        with pytest.raises(_Refused) as err:
            list(rpcs.StreamExportReport(pb.ExportReportRequest(), _Context(token)))  # type: ignore[arg-type]
        assert err.value.args[0] == grpc.StatusCode.UNAUTHENTICATED
