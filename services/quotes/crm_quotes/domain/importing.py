"""Importing products from the rows of a table (a CSV or XLSX file): which column holds which
field (Spanish and English names, case, accents and punctuation ignored), and a row turned into a
validated product or into the problems that keep it out. Pure Python: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.importing import Columns, RowProblem, normalise_header
from crm_platform.importing import map_columns as map_table_columns
from crm_quotes.domain.common import parse_decimal
from crm_quotes.domain.products import Product, ProductKind, validated

# Data rows a file may hold (the header not counted).
MAX_ROWS = 200_000

FIELDS: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "codigo", "referencia", "ref", "code", "productcode", "codigoproducto", "item"),
    "name": ("name", "nombre", "producto", "product", "nombreproducto", "productname", "servicio"),
    "description": ("description", "descripcion", "detalle", "details"),
    "kind": ("kind", "tipo", "type", "clase"),
    "unit_of_measure": ("unitofmeasure", "unidad", "unit", "unidaddemedida", "um", "uom"),
    "unit_price": ("unitprice", "precio", "price", "preciounitario", "valorunitario", "valor"),
    "currency_code": ("currency", "currencycode", "moneda", "divisa"),
    "tax_rate": ("taxrate", "tax", "iva", "impuesto", "tarifaiva", "porcentajeiva", "vat"),
    "active": ("active", "activo", "estado", "habilitado"),
}
_KINDS = {
    **dict.fromkeys(("product", "producto", "bien", "good", "goods", "articulo"), ProductKind.PRODUCT),
    **dict.fromkeys(("service", "servicio", "serv"), ProductKind.SERVICE),
}
_BOOLEANS = {
    **dict.fromkeys(("si", "yes", "true", "verdadero", "1", "x", "activo", "active"), True),
    **dict.fromkeys(("no", "false", "falso", "0", "inactivo", "inactive"), False),
}
# A product field's violation → the import field it came from.
_VIOLATION_FIELDS = {"unit_price.amount": "unit_price", "unit_price.currency_code": "currency_code"}


def map_columns(header: Sequence[str], header_row: int = 1) -> Columns:
    return map_table_columns(FIELDS, header, header_row, what="products")


def _tax_rate(value: str, row: int, problems: list[RowProblem]) -> Decimal | None:
    """'19 %', '19', '0,19', '0.19', 'exento' → 0.19 / 0: a number above 1 is a percentage."""
    text = value.strip().lower().replace("%", "").replace(",", ".").strip()
    if normalise_header(text) in ("exento", "exempt", "excluido", "exenta", "na"):
        return Decimal(0)
    violations: list[FieldViolation] = []
    number = parse_decimal(text, "tax_rate", violations, minimum=Decimal(0), maximum=Decimal(100))
    if number is None:
        problems.append(RowProblem(row, "tax_rate", f"'{value}' is not a tax rate such as 19 %, 0.19 or exento"))
        return None
    return number / 100 if number > 1 or "%" in value else number


def _price(value: str, row: int, problems: list[RowProblem]) -> Decimal | None:
    """A decimal as spreadsheets write it: "1234.50", "1234,50", "1.234,50" or "1,234.50" (with
    both marks, the last one is the decimal mark; a comma alone is a decimal comma, as in Spanish)."""
    text = value.strip().replace(" ", "").replace("$", "")
    if "," in text and "." in text:
        decimal_comma = text.rfind(",") > text.rfind(".")
        text = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    violations: list[FieldViolation] = []
    number = parse_decimal(text, "unit_price", violations)
    if number is None:
        problems += [RowProblem(row, "unit_price", v.description) for v in violations]
    return number


def product_from_row(
    columns: Columns, row: int, cells: Sequence[str], default_currency: str
) -> tuple[Product | None, list[RowProblem]]:
    """The row as a validated product (id and times not yet given), or its problems."""
    problems: list[RowProblem] = []
    kind_text = columns.value(cells, "kind")
    kind = _KINDS.get(normalise_header(kind_text)) if kind_text else ProductKind.PRODUCT
    if kind is None:
        problems.append(RowProblem(row, "kind", f"'{kind_text}' is not one of: producto (product), servicio (service)"))
    active_text = columns.value(cells, "active")
    active = _BOOLEANS.get(normalise_header(active_text)) if active_text else True
    if active is None:
        problems.append(RowProblem(row, "active", f"'{active_text}' is not one of: sí, no"))
    price_text = columns.value(cells, "unit_price")
    price = _price(price_text, row, problems) if price_text else None
    rate_text = columns.value(cells, "tax_rate")
    rate = _tax_rate(rate_text, row, problems) if rate_text else None
    draft = Product(
        id="",
        sku=columns.value(cells, "sku"),
        name=columns.value(cells, "name"),
        kind=kind or ProductKind.PRODUCT,
        unit_price=price if price_text else None,
        currency=columns.value(cells, "currency_code") or default_currency,
        tax_rate=rate if rate_text else None,
        description=columns.value(cells, "description"),
        unit_of_measure=columns.value(cells, "unit_of_measure"),
        active=bool(active),
    )
    try:
        product = validated(draft)
    except InvalidArgument as exc:
        reported = {p.field for p in problems}
        for v in exc.violations:
            name = _VIOLATION_FIELDS.get(v.field, v.field)
            if name not in reported:  # a value that did not parse is reported once
                problems.append(RowProblem(row, name, v.description))
        return None, problems
    return (None if problems else product), problems
