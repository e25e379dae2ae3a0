"""Importing products from a CSV or XLSX file (ImportProducts): every row goes through the product
rules; a row whose SKU a stored product or an earlier row of the file has is skipped and reported;
the valid rest is written WRITE_CHUNK rows per transaction with bulk statements, each product with
its first price history entry and its product_created event in the same transaction. The whole
file is read and counted before anything is written, so a file refused as a whole writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice

from crm_platform import import_files
from crm_platform.context import current_actor
from crm_platform.db import Database
from crm_platform.errors import InvalidArgument
from crm_platform.ids import new_id
from crm_platform.import_files import FileFormat, Row
from crm_platform.importing import DuplicateRow, ImportReport, refuse_nul_rows
from crm_platform.money import is_known_currency
from crm_quotes.adapters import product_repository as repository
from crm_quotes.contract import convert
from crm_quotes.domain import importing, products
from crm_quotes.domain.products import Product

WRITE_CHUNK = 5000


def import_file(
    db: Database,
    content: bytes,
    file_name: str,
    file_format: FileFormat | None,
    default_currency: str = "",
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Imports a file as ImportProducts names it: its format (None = detected from the file) and
    the currency of rows that name none (an ISO 4217 code, any case)."""
    currency = default_currency.strip().upper()
    if currency and not is_known_currency(currency):
        raise InvalidArgument.field("default_currency_code", f"'{currency}' is not an ISO 4217 currency code")
    file_format = file_format or import_files.detect_format(content, file_name)
    return import_products(db, content, file_format, currency, dry_run=dry_run)


def import_products(
    db: Database, content: bytes, file_format: FileFormat, default_currency: str = "", *, dry_run: bool = False
) -> ImportReport:
    """Imports the file's rows as products and reports on every row. A dry run checks and reports
    the same way but writes nothing (a row repeating an earlier row's SKU is then reported with an
    empty existing_id)."""
    table = import_files.read_table(content, file_format, importing.MAX_ROWS)
    columns = importing.map_columns(table.header, table.header_row)
    if not columns.has("currency_code") and not default_currency:
        raise InvalidArgument.field("default_currency_code", "is required when the file has no currency column")
    report = ImportReport(total_rows=table.data_rows)
    report.add_problems(columns.problems)
    seen: dict[str, str] = {}
    rows = refuse_nul_rows(table.rows(), columns, table.header, report)
    for chunk in _batches(rows, WRITE_CHUNK):
        valid: list[tuple[int, Product]] = []
        for row, cells in chunk:
            product, problems = importing.product_from_row(columns, row, cells, default_currency)
            if product is None:
                report.failed += 1
                report.add_problems(problems)
            else:
                valid.append((row, product))
        if valid:
            _import_chunk(db, valid, seen, report, dry_run)
    return report


def _import_chunk(
    db: Database, valid: list[tuple[int, Product]], seen: dict[str, str], report: ImportReport, dry_run: bool
) -> None:
    skus = {p.sku for _, p in valid}
    with db.uow() as uow:
        existing = repository.ids_by_sku(uow.session, skus)
        now = datetime.now(UTC)
        new: list[Product] = []
        for row, product in valid:
            known = existing.get(product.sku, seen.get(product.sku))
            if known is not None:
                report.duplicates.append(DuplicateRow(row, known, "sku"))
                continue
            product_id = "" if dry_run else new_id()
            seen[product.sku] = product_id
            report.created_rows.append(row)
            new.append(replace(product, id=product_id, created_at=now, updated_at=now, version=1))
        if dry_run:  # counted as it would be created; nothing is written
            report.created_ids += [""] * len(new)
            return
        if not new:
            return
        actor = current_actor()
        repository.add_products(uow.session, new)
        repository.add_price_changes(uow.session, [products.price_change(None, p, actor, now) for p in new])
        uow.add_events([convert.product_created(p) for p in new])
        uow.commit()
    report.created_ids += [p.id for p in new]


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while batch := list(islice(rows, size)):
        yield batch
