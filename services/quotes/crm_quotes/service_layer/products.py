"""Use cases on products. Each runs in one unit of work: the change, its price history entry and
its events commit together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from crm_platform import pagination
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import touched
from crm_quotes.adapters import product_repository as repository
from crm_quotes.contract import convert
from crm_quotes.domain import products as rules
from crm_quotes.domain.products import PRICE_FIELDS, PriceChange, Product, ProductKind, validated

CREATE_SCOPE = "CreateProduct"
BATCH_GET_MAX = 1000


@dataclass(frozen=True)
class ProductFilters:
    query: str = ""
    kind: ProductKind | None = None
    include_inactive: bool = False


def _not_found(product_id: str) -> NotFound:
    return NotFound(f"product '{product_id}' not found", reason="product_not_found", metadata={"id": product_id})


def _stored(uow: UnitOfWork, product_id: str) -> Product:
    if not product_id:
        raise InvalidArgument.field("id", "is required")
    product = repository.get_product(uow.session, product_id, for_update=True) if is_valid_id(product_id) else None
    if product is None:
        raise _not_found(product_id)
    return product


def _refuse_duplicate_sku(uow: UnitOfWork, product: Product) -> None:
    existing = repository.ids_by_sku(uow.session, [product.sku]).get(product.sku)
    if existing and existing != product.id:
        raise AlreadyExists(
            f"a product with SKU '{product.sku}' already exists: {existing}",
            reason="duplicate_sku",
            metadata={"existing_id": existing, "field": "sku"},
        )


def create_product(uow: UnitOfWork, draft: Product) -> Product:
    """Validates and stores a new product in `uow`, records its first price history entry, and
    stages product_created. A SKU another product has is ALREADY_EXISTS. The servicer runs it
    through run_once (scope CREATE_SCOPE), so that a repeated request_id returns the first answer,
    and runs it again when a concurrent create took the SKU between the check and the commit."""
    now = datetime.now(UTC)
    product = replace(validated(draft), id=new_id(), created_at=now, updated_at=now, version=1)
    _refuse_duplicate_sku(uow, product)
    repository.add_products(uow.session, [product])
    repository.add_price_changes(uow.session, [rules.price_change(None, product, current_actor(), now)])
    uow.add_event(convert.product_created(product))
    return product


def update_product(db: Database, draft: Product, mask: Sequence[str], *, expected_version: int = 0) -> Product:
    """Changes the fields named in `mask` (validated as on create) and stages product_updated; a
    change of unit price or tax rate is also recorded in the price history and staged as
    product_price_changed. Existing quotes keep their snapshots. A change that changes nothing
    stores and publishes nothing."""
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        after, changed = rules.updated(current, draft, mask, expected_version)
        if not changed:
            return current
        if "sku" in changed:
            _refuse_duplicate_sku(uow, after)
        now = datetime.now(UTC)
        after = touched(after, now)
        if not repository.update_product(uow.session, after, current.version):
            raise Conflict(
                f"product '{current.id}' changed meanwhile: read it again and retry", reason="version_mismatch"
            )
        events = [convert.product_updated(after, changed)]
        if PRICE_FIELDS & set(changed):
            change = rules.price_change(current, after, current_actor(), now)
            repository.add_price_changes(uow.session, [change])
            events.append(convert.product_price_changed(after, change))
        uow.add_events(events)
        uow.commit()
        return after


def delete_product(db: Database, product_id: str) -> None:
    """Deletes a product that no quote line names (FAILED_PRECONDITION product_in_use otherwise:
    deactivate it instead) and stages product_deleted."""
    with db.uow() as uow:
        current = _stored(uow, product_id)
        if repository.product_on_quotes(uow.session, current.id):
            raise FailedPrecondition(
                f"product '{current.sku}' is on quotes: set active = false instead of deleting it",
                reason="product_in_use",
                metadata={"id": current.id},
            )
        repository.delete_product(uow.session, current.id)
        uow.add_event(convert.product_deleted(current))
        uow.commit()


def get_product(db: Database, product_id: str) -> Product:
    if not is_valid_id(product_id):
        raise _not_found(product_id)
    with db.read() as session:
        product = repository.get_product(session, product_id)
    if product is None:
        raise _not_found(product_id)
    return product


def batch_get_products(db: Database, product_ids: Sequence[str]) -> tuple[list[Product], list[str]]:
    """The products that exist among `product_ids` (id order) and the ids that do not (asked order)."""
    if len(product_ids) > BATCH_GET_MAX:
        raise InvalidArgument.field("ids", f"at most {BATCH_GET_MAX} ids per call, got {len(product_ids)}")
    wanted = list(dict.fromkeys(product_ids))
    with db.read() as session:
        found = repository.get_products(session, [i for i in wanted if is_valid_id(i)])
    known = {p.id for p in found}
    return found, [i for i in wanted if i not in known]


def list_products(db: Database, filters: ProductFilters, page_size: int, page_token: str) -> Page[Product]:
    """A page of the products matching `filters`, oldest first (inactive ones only when asked)."""
    wanted = filters.__dict__
    return read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_products(session, limit=limit, after_id=after_id, **wanted),
    )


def price_history(db: Database, product_id: str, page_size: int, page_token: str) -> tuple[list[PriceChange], str]:
    """A product's price history, newest first, and the next page's token (empty at the end)."""
    get_product(db, product_id)
    size = pagination.page_size(page_size)
    filters = {"product_id": product_id}
    key = pagination.decode_token(page_token, filters)
    before = key[0] if key else None
    if before is not None and not isinstance(before, int):
        raise InvalidArgument.field("page_token", "is not a token this list issued")
    with db.read() as session:
        rows = repository.list_price_changes(session, product_id, limit=size + 1, before_id=before)
    if len(rows) <= size:
        return [c for _, c in rows], ""
    rows = rows[:size]
    return [c for _, c in rows], pagination.encode_token([rows[-1][0]], filters)
