"""Product import rows without I/O: Spanish and English headers, prices and tax rates as
spreadsheets write them, and the problems that keep a row out, each naming its column."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crm_platform.errors import InvalidArgument
from crm_quotes.domain.importing import map_columns, product_from_row
from crm_quotes.domain.products import ProductKind


def test_headers_in_spanish_or_english_map_to_fields() -> None:
    cols = map_columns(["Código", "Nombre", "Precio unitario", "Moneda", "IVA %", "Tipo", "Color"])
    assert [cols.has(f) for f in ("sku", "name", "unit_price", "currency_code", "tax_rate", "kind")] == [True] * 6
    assert [(p.row, p.field) for p in cols.problems] == [(1, "Color")]
    with pytest.raises(InvalidArgument) as err:
        map_columns(["foo", "bar"])
    assert err.value.violations[0].field == "content"


@pytest.mark.parametrize(
    ("price", "rate", "want_price", "want_rate"),
    [
        ("1.250.000,50", "19 %", "1250000.50", "0.19"),
        ("1,250.5", "0.19", "1250.5", "0.19"),
        ("99,99", "19", "99.99", "0.19"),
        ("$ 10", "exento", "10", "0"),
        ("7", "0,05", "7", "0.05"),
    ],
)
def test_prices_and_rates_as_spreadsheets_write_them(price: str, rate: str, want_price: str, want_rate: str) -> None:
    cols = map_columns(["sku", "nombre", "precio", "iva"])
    product, problems = product_from_row(cols, 2, ["A-1", "Cosa", price, rate], "COP")
    assert problems == [] and product is not None
    assert product.unit_price == D(want_price) and product.tax_rate == D(want_rate)
    assert product.kind == ProductKind.PRODUCT and product.currency == "COP" and product.active


def test_a_bad_row_lists_each_problem_with_its_column() -> None:
    cols = map_columns(["sku", "nombre", "precio", "moneda", "iva", "tipo", "activo"])
    product, problems = product_from_row(cols, 7, ["", "", "-3", "PESOS", "abc", "cosa", "quizás"], "")
    assert product is None
    assert {(p.row, p.field) for p in problems} == {
        (7, "sku"),
        (7, "name"),
        (7, "unit_price"),
        (7, "currency_code"),
        (7, "tax_rate"),
        (7, "kind"),
        (7, "active"),
    }
