"""Unit tests (no I/O) for NUL characters in imported files (crm_platform.import_files and
crm_platform.importing): a NUL in a data cell refuses that row only, naming the import field (or
the column as written when it maps to none); a NUL in the header, as UTF-16 text has, refuses the
file as not text."""

from __future__ import annotations

import pytest

from crm_platform.errors import InvalidArgument
from crm_platform.import_files import FileFormat, read_table
from crm_platform.importing import ImportReport, RowProblem, map_columns, refuse_nul_rows

FIELDS = {"name": ("name", "nombre"), "email": ("email", "correo")}
MESSAGE = "must not contain a NUL character (\\u0000): the row is not imported"


def test_a_row_with_a_nul_is_refused_naming_the_column_and_the_others_pass() -> None:
    content = "Nombre,Correo,Notas\nAna,ana@x.co,\nB\x00eto,beto@x.co,ok\nCarla,carla@x.co,a\x00b\n\nDora,d@x.co,\n"
    table = read_table(content.encode(), FileFormat.CSV, 100)
    columns = map_columns(FIELDS, table.header, table.header_row, what="clients")
    report = ImportReport(total_rows=table.data_rows)
    kept = list(refuse_nul_rows(table.rows(), columns, table.header, report))
    assert [row for row, _ in kept] == [2, 6]
    assert report.failed == 2
    assert report.problems == [RowProblem(3, "name", MESSAGE), RowProblem(4, "Notas", MESSAGE)]


def test_a_nul_in_the_header_means_the_file_is_not_text() -> None:
    with pytest.raises(InvalidArgument, match="not text"):
        read_table("Nombre,Correo\nAna,a@x.co\n".encode("utf-16-le"), FileFormat.CSV, 100)
    with pytest.raises(InvalidArgument, match="not text"):
        read_table(b"Nombre,Co\x00rreo\nAna,a@x.co\n", FileFormat.CSV, 100)
    with pytest.raises(InvalidArgument, match="not text"):
        read_table(b"Nombre,Correo\nAna,a\x01@x.co\n", FileFormat.CSV, 100)
