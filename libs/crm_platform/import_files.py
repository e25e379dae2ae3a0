"""Reading an imported file into rows of text cells: CSV (UTF-8 with or without BOM, delimiter
found among comma, semicolon and tab, quoted fields) with the csv module, XLSX (first sheet) with
openpyxl in read-only mode. The first non-blank row is the header; blank rows are skipped but
keep their place in the row numbers, which are the ones a spreadsheet shows (header = 1).
A file that cannot be read as its format is InvalidArgument naming `content`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any

from crm_platform.errors import InvalidArgument

Row = tuple[int, tuple[str, ...]]
DELIMITERS = (",", ";", "\t")
_ZIP_MAGIC = b"PK\x03\x04"
# Control characters that no text file holds (tab, CR and LF are fine). A NUL is not among them:
# one in a data cell refuses that row only (crm_platform.importing.refuse_nul_rows); one in the
# header means the file is not UTF-8 text (UTF-16 has a NUL in every other byte).
_BINARY = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f]")


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class Table:
    """A file's header and a way to read its data rows (again and again, lazily), as
    (row number, cells) with blank rows left out; `data_rows` counts them."""

    header: tuple[str, ...]
    header_row: int
    data_rows: int
    _read: Callable[[], Iterator[Row]]

    def rows(self) -> Iterator[Row]:
        return self._read()


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument.field("content", message)


def detect_format(content: bytes, file_name: str = "") -> FileFormat:
    """The format a request did not name: by the file name's extension, else by the content."""
    name = file_name.lower()
    if name.endswith(".xlsx"):
        return FileFormat.XLSX
    if name.endswith((".csv", ".txt", ".tsv")):
        return FileFormat.CSV
    return FileFormat.XLSX if content.startswith(_ZIP_MAGIC) else FileFormat.CSV


def read_table(content: bytes, file_format: FileFormat, max_rows: int) -> Table:
    """The file's table; InvalidArgument (content) when it is empty, unreadable as `file_format`,
    has no header, or holds more than `max_rows` data rows."""
    if not content.strip():
        raise _bad("the file is empty")
    if file_format == FileFormat.CSV:
        if content.startswith(_ZIP_MAGIC):
            raise _bad("the file is an XLSX workbook (or another zip archive), not CSV")
        read = _csv_reader(_text_of(content))
    else:
        if not content.startswith(_ZIP_MAGIC):
            raise _bad("the file is not an XLSX workbook (an .xls file must be saved as .xlsx or CSV first)")
        read = _xlsx_reader(content)
    header: tuple[str, ...] | None = None
    header_row = 0
    count = 0
    for number, cells in read():
        if header is None:
            if any("\x00" in cell for cell in cells):
                raise _bad("the file is not text (CSV must be UTF-8)")
            header, header_row = cells, number
        else:
            count += 1
            if count > max_rows:
                raise _bad(f"the file holds more than {max_rows:,} data rows: split it into smaller files")
    if header is None:
        raise _bad("the file is empty")

    def data() -> Iterator[Row]:
        rows = read()
        next(rows)  # the header
        return rows

    return Table(header=header, header_row=header_row, data_rows=count, _read=data)


def _text_of(content: bytes) -> str:
    """UTF-8 (a BOM is dropped); a file that is not UTF-8 is read as Windows-1252, which is what
    Excel writes for "CSV" on Spanish Windows. Binary content is refused."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise _bad("the file is not text (CSV must be UTF-8)") from None
    if _BINARY.search(text):
        raise _bad("the file is not text (CSV must be UTF-8)")
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter among comma, semicolon and tab that splits the header line into the most
    fields (quotes respected); a comma when none splits it."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    best, fields = ",", 1
    for delimiter in DELIMITERS:
        found = len(next(csv.reader([first], delimiter=delimiter), []))
        if found > fields:
            best, fields = delimiter, found
    return best


def _csv_reader(text: str) -> Callable[[], Iterator[Row]]:
    delimiter = sniff_delimiter(text)

    def read() -> Iterator[Row]:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        try:
            for number, cells in enumerate(reader, start=1):
                row = tuple(c.strip() for c in cells)
                if any(row):
                    yield number, row
        except csv.Error as exc:  # e.g. a quote left open, or text after a closing quote
            raise _bad(f"the file cannot be read as CSV (line {reader.line_num}): {exc}") from exc

    return read


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a user sees: whole numbers without a decimal point or exponent (a
    phone stored as a number stays 3001234567), dates as ISO dates, booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


def _xlsx_reader(content: bytes) -> Callable[[], Iterator[Row]]:
    from openpyxl import load_workbook

    def read() -> Iterator[Row]:
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
            raise _bad(f"the file cannot be read as XLSX: {exc}") from exc
        try:
            if not workbook.worksheets:
                raise _bad("the workbook has no worksheet")
            sheet = workbook.worksheets[0]
            # The declared size may be wrong (files written by other tools): read every row there is.
            sheet.reset_dimensions()
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                row = tuple(cell_text(v) for v in values)
                if any(row):
                    yield number, row
        except InvalidArgument:
            raise
        except Exception as exc:  # a damaged sheet (bad XML, missing parts)
            raise _bad(f"the file cannot be read as XLSX: {exc}") from exc
        finally:
            workbook.close()

    return read
