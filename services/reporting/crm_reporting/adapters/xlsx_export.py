"""A report as an Excel workbook, written with openpyxl in write-only mode (rows go to a temporary
file as they come, so memory stays flat however many rows): a header row (frozen, with an
autofilter), typed cells, a totals row for grouped reports, and a second sheet "Filtros" that says
what the report is (module, filters, groupings, aggregates, generation and data times). Rows go
through crm_platform.spreadsheets, so text (a client's name, a report's name) is never a formula.

Cells: dates as dates (yyyy-mm-dd), timestamps as the wall-clock time in the report's zone
(Excel has no zones; the zone is named in the header), money as a number with the currency's
format (`#,##0.00 "USD"`, with as many decimals as the currency has). Excel keeps numbers as
binary floats: a money cell is the float nearest the exact amount, which is exact to the cent for
any amount of up to 15 significant digits; the exact figures are in the database and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl.cell import Cell
from openpyxl.styles import Font
from openpyxl.styles.cell_style import StyleArray

from crm_platform.money import Money
from crm_platform.spreadsheets import XLSX_CONTENT_TYPE, TextWorkbook
from crm_reporting.adapters.report_query import OutputColumn, exponent
from crm_reporting.domain.report_catalogue import FieldType

CONTENT_TYPE = XLSX_CONTENT_TYPE
# Excel's sheet limit (the header takes one row).
MAX_ROWS = 1_048_575


def money_format(currency: str) -> str:
    digits = exponent(currency)
    return f'#,##0{"." + "0" * digits if digits else ""} "{currency}"'


@dataclass
class Description:
    """What the second sheet says, as (label, value) lines."""

    title: str
    lines: list[tuple[str, str]] = field(default_factory=list)


class _Totals:
    """Totals of a grouped report's aggregate columns, per currency when money is involved."""

    def __init__(self, columns: Sequence[OutputColumn]):
        self.columns = columns
        self.by_currency: dict[str, list[Any]] = {}

    def add(self, values: Sequence[Any], currency: str) -> None:
        acc = self.by_currency.setdefault(currency, [None] * len(self.columns))
        for i, (col, v) in enumerate(zip(self.columns, values, strict=True)):
            if v is None or "(" not in col.key:
                continue
            fn = col.key.split("(", 1)[0]
            amount = v.amount if isinstance(v, Money) else v
            cur = acc[i]
            if fn in ("count", "sum"):
                acc[i] = amount if cur is None else cur + amount
            elif fn == "min":
                acc[i] = amount if cur is None else min(cur, amount)
            elif fn == "max":
                acc[i] = amount if cur is None else max(cur, amount)
            # avg: no honest total without the counts behind each average; left empty


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def write_workbook(
    out: BinaryIO | Path,
    columns: Sequence[OutputColumn],
    rows: Iterable[Sequence[Any]],
    *,
    zone: ZoneInfo,
    grouped: bool,
    description: Description,
    sheet_title: str = "Informe",
) -> int:
    """Writes the workbook; returns the number of data rows written (at most Excel's limit)."""
    wb = TextWorkbook()
    ws = wb.add_sheet(sheet_title)
    ws.sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for col in columns:
        label = col.label
        if col.type == FieldType.TIMESTAMP:
            label = f"{label} ({zone.key})"
        header.append(ws.cell(label, font=bold))
    ws.append(header)
    money_styles: dict[str, StyleArray] = {}
    formats: dict[str, str] = {}

    def money_cell(v: Money) -> Cell:
        style = money_styles.get(v.currency)
        if style is None:
            proto = ws.cell(0, number_format=formats.setdefault(v.currency, money_format(v.currency)))
            style = money_styles[v.currency] = proto._style
        return Cell(ws.sheet, row=1, column=1, value=float(v.amount), style_array=copy(style))

    def local_time(v: datetime) -> datetime:
        # openpyxl gives a naive datetime its own date-time format, as it does for the raw rows.
        return v.astimezone(zone).replace(tzinfo=None)

    convert: dict[FieldType, Callable[[Any], Any]] = {
        FieldType.MONEY: money_cell,
        FieldType.TIMESTAMP: local_time,
        FieldType.DECIMAL: float,
    }
    converting = [(i, convert[c.type]) for i, c in enumerate(columns) if c.type in convert]
    money_at = [i for i, c in enumerate(columns) if c.type == FieldType.MONEY]
    currency_key = next((i for i, c in enumerate(columns) if c.key == "currency_code"), None)
    totals = _Totals(columns) if grouped else None
    n = 0
    append = ws.append
    for values in rows:
        if n >= MAX_ROWS:
            break
        # str, int, bool and dates pass as they are (openpyxl gives dates a date format).
        cells = list(values)
        for i, fn in converting:
            v = cells[i]
            if v is not None:
                cells[i] = fn(v)
        append(cells)
        if totals is not None:
            currency = next((values[i].currency for i in money_at if values[i] is not None), "")
            if not currency and currency_key is not None:
                currency = values[currency_key] or ""
            totals.add(values, currency)
        n += 1
    last_row = n + 1
    if totals is not None and n:
        for currency, acc in sorted(totals.by_currency.items()):
            row: list[Any] = []
            for i, col in enumerate(columns):
                v = acc[i]
                if i == 0:
                    row.append(ws.cell(f"Total {currency}".strip(), font=bold))
                elif col.key == "currency_code":
                    row.append(currency)
                elif v is None:
                    row.append(None)
                elif col.type == FieldType.MONEY:
                    number_format = formats.get(currency) or money_format(currency)
                    row.append(ws.cell(float(v), font=bold, number_format=number_format))
                else:
                    row.append(ws.cell(_plain(v), font=bold))
            ws.append(row)
    # The filter covers the header and the data rows (not the totals).
    ws.sheet.auto_filter.ref = f"A1:{_column_letter(len(columns))}{max(last_row, 1)}"
    info = wb.add_sheet("Filtros")
    info.append([description.title])
    for label, value in description.lines:
        info.append([label, value])
    wb.save(out)
    return n


def _column_letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(max(n, 1))


def as_cell_text(value: Any) -> str:
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
