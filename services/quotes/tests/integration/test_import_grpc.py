"""Importing products from CSV and XLSX over gRPC: valid rows land with their price history and
events, every invalid row is reported with its row number, column and problem, a row whose SKU a
product (or an earlier row) has is skipped and listed, so importing the same file again adds
nothing; a dry run writes nothing; a file refused as a whole writes nothing."""

from __future__ import annotations

import io

import grpc
import pytest
from openpyxl import Workbook

from crm.quotes.v1 import quotes_pb2
from crm_platform.grpc_client import decode_error

from .conftest import QuotesWorld

CSV = """Código;Nombre;Tipo;Precio unitario;Moneda;IVA;Unidad;Descripción
CAM-01;Cámara térmica;producto;1.250.000,50;COP;19 %;unidad;Detecta fugas de calor
SRV-01;Instalación;servicio;350000;COP;exento;hora;
BAD-01;;producto;-5;COP;19;unidad;
BAD-02;Sin moneda;algo;10;XYZ;150 %;;
CAM-01;Cámara repetida;producto;1;COP;19;;
"""


def _import(world: QuotesWorld, content: bytes, **kw: object) -> quotes_pb2.ImportProductsResponse:
    req = quotes_pb2.ImportProductsRequest(content=content, **kw)  # type: ignore[arg-type]
    return world.stub.ImportProducts(req, timeout=30)


def test_a_csv_lands_its_valid_rows_and_reports_every_other_one(world: QuotesWorld) -> None:
    res = _import(world, CSV.encode(), file_name="catalogo.csv")
    assert (res.total_rows, res.created, res.duplicates, res.failed) == (5, 2, 1, 2)
    problems = {(p.row, p.field) for p in res.problems}
    assert problems == {(4, "name"), (4, "unit_price"), (5, "kind"), (5, "currency_code"), (5, "tax_rate")}
    assert [(d.row, d.existing_id, d.field) for d in res.duplicate_rows] == [(6, res.created_ids[0], "sku")]
    listed = world.stub.ListProducts(quotes_pb2.ListProductsRequest(), timeout=5).products
    cam, srv = listed
    assert (cam.sku, cam.name, cam.unit_price.amount, cam.tax_rate, cam.description) == (
        "CAM-01",
        "Cámara térmica",
        "1250000.5",
        "0.19",
        "Detecta fugas de calor",
    )
    assert (srv.kind, srv.tax_rate, srv.unit_of_measure) == (quotes_pb2.PRODUCT_KIND_SERVICE, "0", "hora")
    assert world.counts()["price_changes"] == 2 and world.counts()["outbox"] == 2

    again = _import(world, CSV.encode(), file_name="catalogo.csv")
    assert (again.created, again.duplicates, again.failed) == (0, 3, 2)
    assert world.counts()["products"] == 2


def test_an_xlsx_with_a_default_currency_imports_too(world: QuotesWorld) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SKU", "Name", "Price", "Tax rate", "Kind"])
    sheet.append(["X-1", "Ñandú pluma", 12.5, 0.19, "product"])
    sheet.append(["X-2", "Soporte", 100, 19, "service"])
    out = io.BytesIO()
    book.save(out)
    dry = _import(world, out.getvalue(), default_currency_code="usd", dry_run=True)
    # As in contacts: a dry run reports the problems, duplicates and the rows it would create, and
    # creates nothing.
    assert (dry.total_rows, dry.created, dry.failed, dry.duplicates) == (2, 2, 0, 0)
    assert dry.dry_run and list(dry.created_rows) == [2, 3] and list(dry.created_ids) == []
    assert world.counts()["products"] == 0
    res = _import(world, out.getvalue(), default_currency_code="usd")
    assert res.created == 2
    got = {p.sku: p for p in world.stub.ListProducts(quotes_pb2.ListProductsRequest(), timeout=5).products}
    assert got["X-1"].unit_price.amount == "12.50" and got["X-1"].unit_price.currency_code == "USD"
    assert got["X-2"].tax_rate == "0.19" and got["X-1"].name == "Ñandú pluma"


@pytest.mark.parametrize(
    ("content", "kw", "field"),
    [
        (b"", {}, "content"),
        (b"foo,bar\n1,2\n", {"default_currency_code": "COP"}, "content"),
        (b"sku,name,price\nA,B,1\n", {}, "default_currency_code"),
        (b"sku,name,price\nA,B,1\n", {"default_currency_code": "PESOS"}, "default_currency_code"),
        (b"PK\x03\x04garbage", {"default_currency_code": "COP", "file_name": "x.xlsx"}, "content"),
    ],
)
def test_a_file_refused_as_a_whole_names_the_field_and_writes_nothing(
    world: QuotesWorld, content: bytes, kw: dict[str, object], field: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _import(world, content, **kw)
    info = decode_error(err.value)
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == field
    assert world.counts()["products"] == 0
