"""Storing and reading products and their price history: rows ↔ domain objects."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Result, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked
from crm_quotes.adapters.rows import text_query
from crm_quotes.adapters.tables import price_changes, products, quote_lines
from crm_quotes.domain.products import PriceChange, Product, ProductKind


def _row_to_product(row: Any) -> Product:
    return Product(
        id=row.id,
        sku=row.sku,
        name=row.name,
        kind=ProductKind(row.kind),
        unit_price=row.unit_price,
        currency=row.currency_code,
        tax_rate=row.tax_rate,
        description=row.description,
        unit_of_measure=row.unit_of_measure,
        active=row.active,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(product: Product) -> dict[str, Any]:
    assert product.kind is not None, "only a validated product is stored"
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "kind": product.kind.value,
        "unit_of_measure": product.unit_of_measure,
        "unit_price": product.unit_price,
        "currency_code": product.currency,
        "tax_rate": product.tax_rate,
        "active": product.active,
        "search_text": product.search_text,
        "updated_at": product.updated_at,
        "version": product.version,
    }


def add_products(session: Session, new: Sequence[Product]) -> None:
    if new:
        session.execute(insert(products), [{"id": p.id, "created_at": p.created_at, **_values(p)} for p in new])


def update_product(session: Session, product: Product, read_version: int) -> bool:
    """Stores the changed product if its row is still at `read_version`; False otherwise."""
    result = session.execute(
        update(products)
        .where(products.c.id == product.id, products.c.version == read_version)
        .values(**_values(product))
    )
    return rows_changed(result) == 1


def delete_product(session: Session, product_id: str) -> None:
    session.execute(delete(price_changes).where(price_changes.c.product_id == product_id))
    session.execute(delete(products).where(products.c.id == product_id))


def product_on_quotes(session: Session, product_id: str) -> bool:
    return session.scalar(select(quote_lines.c.id).where(quote_lines.c.product_id == product_id).limit(1)) is not None


def get_product(session: Session, product_id: str, *, for_update: bool = False) -> Product | None:
    stmt = select(products).where(products.c.id == product_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_product(row)


def get_products(session: Session, product_ids: Collection[str]) -> list[Product]:
    """The products of these ids that exist, in id order."""
    found: list[Product] = []
    for chunk in chunked(product_ids):
        found += [_row_to_product(r) for r in session.execute(select(products).where(products.c.id.in_(chunk)))]
    return sorted(found, key=lambda p: p.id)


def ids_by_sku(session: Session, skus: Collection[str]) -> dict[str, str]:
    """{sku: product id} for the (normalised) SKUs that a product has."""
    found: dict[str, str] = {}
    for chunk in chunked(skus):
        rows: Result[str, str] = session.execute(select(products.c.sku, products.c.id).where(products.c.sku.in_(chunk)))
        found.update({sku: product_id for sku, product_id in rows})
    return found


def list_products(
    session: Session,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    kind: ProductKind | None = None,
    include_inactive: bool = False,
) -> list[Product]:
    """Products matching the filters in id order (oldest first), keyset-paginated."""
    conditions: list[ColumnElement[bool]] = text_query(products.c.search_text, query)
    if kind is not None:
        conditions.append(products.c.kind == kind.value)
    if not include_inactive:
        conditions.append(products.c.active.is_(True))
    if after_id:
        conditions.append(products.c.id > after_id)
    stmt = select(products).where(*conditions).order_by(products.c.id).limit(limit)
    return [_row_to_product(r) for r in session.execute(stmt)]


def _change_values(change: PriceChange) -> dict[str, Any]:
    return {
        "product_id": change.product_id,
        "previous_unit_price": change.previous_unit_price,
        "previous_currency_code": change.previous_currency,
        "previous_tax_rate": change.previous_tax_rate,
        "unit_price": change.unit_price,
        "currency_code": change.currency,
        "tax_rate": change.tax_rate,
        "changed_by": change.changed_by,
        "changed_at": change.changed_at,
        "product_version": change.product_version,
    }


def add_price_changes(session: Session, changes: Sequence[PriceChange]) -> None:
    if changes:
        session.execute(insert(price_changes), [_change_values(c) for c in changes])


def list_price_changes(
    session: Session, product_id: str, *, limit: int, before_id: int | None
) -> list[tuple[int, PriceChange]]:
    """(row id, PriceChange) of a product, newest first, keyset-paginated by row id."""
    conditions = [price_changes.c.product_id == product_id]
    if before_id is not None:
        conditions.append(price_changes.c.id < before_id)
    stmt = select(price_changes).where(*conditions).order_by(price_changes.c.id.desc()).limit(limit)
    return [
        (
            r.id,
            PriceChange(
                product_id=r.product_id,
                unit_price=r.unit_price,
                currency=r.currency_code,
                tax_rate=r.tax_rate,
                changed_by=r.changed_by,
                changed_at=utc(r.changed_at),
                product_version=r.product_version,
                previous_unit_price=r.previous_unit_price,
                previous_currency=r.previous_currency_code,
                previous_tax_rate=r.previous_tax_rate,
            ),
        )
        for r in session.execute(stmt)
    ]
