"""Product (Producto) rules: a catalogue entry the team sells, a manufactured good or a service,
with a unit price in one currency and a tax rate; what a valid product is, how its fields are
normalised, what an update may change, and the price history entry a change of price or tax rate
leaves. Pure Python: no ORM, no protobuf, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.money import is_known_currency
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version
from crm_quotes.domain.common import (
    MAX_DECIMALS,
    NAME_MAX,
    TEXT_MAX,
    check_length,
    decimal_places,
    search_text,
)

SKU_MAX = 64
UNIT_MAX = 50
DEFAULT_UNIT = "unit"
# Letters, digits and - _ . / (no spaces): what catalogues and spreadsheets use as codes.
_SKU = re.compile(r"^[A-Z0-9][A-Z0-9._/-]*$")

UPDATABLE = UpdatableFields(
    fields=("sku", "name", "description", "kind", "unit_of_measure", "unit_price", "tax_rate", "active"),
    immutable=frozenset({"id", "create_time", "update_time", "version"}),
)
# Fields whose change is recorded in the price history (and published as product_price_changed).
PRICE_FIELDS = frozenset({"unit_price", "tax_rate"})


class ProductKind(StrEnum):
    PRODUCT = "product"
    SERVICE = "service"


@dataclass(frozen=True)
class Product:
    id: str
    sku: str
    name: str
    # None only in a draft that did not say.
    kind: ProductKind | None
    # Before tax, in `currency`; None in a draft that gave none.
    unit_price: Decimal | None
    currency: str
    # A decimal fraction: 0.19 is 19 %, 0 is exempt; None in a draft that gave none.
    tax_rate: Decimal | None
    description: str = ""
    unit_of_measure: str = DEFAULT_UNIT
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def search_text(self) -> str:
        return search_text(self.sku, self.name, self.description)


@dataclass(frozen=True)
class PriceChange:
    """One entry of a product's price history: its price and tax rate before (None on the entry
    that records its creation) and after a change."""

    product_id: str
    unit_price: Decimal
    currency: str
    tax_rate: Decimal
    changed_by: str
    changed_at: datetime
    product_version: int
    previous_unit_price: Decimal | None = None
    previous_currency: str = ""
    previous_tax_rate: Decimal | None = None


def normalise_sku(value: str) -> str:
    """SKUs compare case-insensitively: stored trimmed and upper-cased ("ab-12 " → "AB-12")."""
    return value.strip().upper()


def validated(product: Product) -> Product:
    """The product with normalised fields, or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    sku = normalise_sku(product.sku)
    if not sku:
        problems.append(FieldViolation("sku", "is required"))
    elif len(sku) > SKU_MAX:
        problems.append(FieldViolation("sku", f"must be at most {SKU_MAX} characters"))
    elif not _SKU.match(sku):
        problems.append(FieldViolation("sku", "may hold only letters, digits and - _ . / (no spaces)"))
    name = product.name.strip()
    if not name:
        problems.append(FieldViolation("name", "is required"))
    check_length(name, "name", NAME_MAX, problems)
    check_length(product.description, "description", TEXT_MAX, problems)
    if product.kind is None:
        problems.append(FieldViolation("kind", "is required: product or service"))
    unit = product.unit_of_measure.strip() or DEFAULT_UNIT
    check_length(unit, "unit_of_measure", UNIT_MAX, problems)
    currency = product.currency.strip().upper()
    if not is_known_currency(currency):
        problems.append(FieldViolation("unit_price.currency_code", f"'{currency}' is not an ISO 4217 currency code"))
    price = product.unit_price
    if price is None:
        problems.append(FieldViolation("unit_price.amount", "is required"))
    elif price < 0:
        problems.append(FieldViolation("unit_price.amount", f"must not be negative, got {price}"))
    elif decimal_places(price) > MAX_DECIMALS:
        problems.append(FieldViolation("unit_price.amount", f"must have at most {MAX_DECIMALS} decimal places"))
    rate = product.tax_rate
    if rate is None:
        problems.append(FieldViolation("tax_rate", "is required: a decimal fraction such as 0.19 (0 = exempt)"))
    elif not Decimal(0) <= rate <= Decimal(1):
        problems.append(FieldViolation("tax_rate", f"must be a fraction from 0 to 1 (0.19 is 19 %), got {rate}"))
    elif decimal_places(rate) > MAX_DECIMALS:
        problems.append(FieldViolation("tax_rate", f"must have at most {MAX_DECIMALS} decimal places"))
    if problems:
        raise InvalidArgument(problems)
    assert price is not None and rate is not None
    return replace(
        product,
        sku=sku,
        name=name,
        description=product.description.strip(),
        unit_of_measure=unit,
        currency=currency,
        unit_price=price + 0,
        tax_rate=rate.normalize() + 0,
    )


def updated(
    current: Product, draft: Product, mask: Sequence[str], expected_version: int = 0
) -> tuple[Product, list[str]]:
    """The product with the fields named in `mask` taken from `draft` (`unit_price` brings its
    currency), validated as on create, and the names of the fields whose value changes."""
    paths = UPDATABLE.check(mask)
    check_version("product", current.id, current.version, expected_version)
    after = UPDATABLE.apply(current, draft, paths)
    if "unit_price" in paths:
        after = replace(after, currency=draft.currency)
    after = validated(after)
    changed = UPDATABLE.changed(current, after)
    if after.currency != current.currency and "unit_price" not in changed:
        changed.append("unit_price")
    return after, changed


def price_change(before: Product | None, after: Product, actor: str, now: datetime) -> PriceChange:
    """The history entry of a product's creation (`before` None) or of a change to its price or rate."""
    assert after.unit_price is not None and after.tax_rate is not None
    return PriceChange(
        product_id=after.id,
        unit_price=after.unit_price,
        currency=after.currency,
        tax_rate=after.tax_rate,
        changed_by=actor,
        changed_at=now,
        product_version=after.version,
        previous_unit_price=before.unit_price if before else None,
        previous_currency=before.currency if before else "",
        previous_tax_rate=before.tax_rate if before else None,
    )
