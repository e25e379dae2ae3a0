"""Quote (Cotización) rules: lines built from catalogue products (a snapshot of their price, tax
rate, SKU and name that later product changes never alter), the amounts (domain.totals), the
numbering (COT-<year>-<sequence>, revisions COT-2026-0007-R2), the life cycle draft → sent →
accepted | rejected | expired, superseded by a revision, and expiry by validity date without any
job having to run: a sent quote whose valid_until has passed in the company's time zone is
EXPIRED whenever it is read, and cannot be accepted. Pure Python: no ORM, no protobuf, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.money import is_known_currency
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version
from crm_quotes.domain import totals
from crm_quotes.domain.common import (
    ID_MAX,
    TEXT_MAX,
    check_length,
    decimal_places,
    search_text,
)
from crm_quotes.domain.products import Product
from crm_quotes.domain.totals import LineAmounts, Totals

MAX_LINES = 200
TERMS_MAX = 5000
NUMBER_PREFIX = "COT"
ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class QuoteFields(UpdatableFields):
    """Update masks of quotes: the API's currency_code is the record's `currency`."""

    def apply_path(self, changes: dict[str, Any], current: Any, draft: Any, head: str, sub: str) -> None:
        if head == "currency_code":
            changes["currency"] = draft.currency
        else:
            super().apply_path(changes, current, draft, head, sub)

    def value(self, record: Any, name: str) -> Any:
        return record.currency if name == "currency_code" else getattr(record, name)


UPDATABLE = QuoteFields(
    fields=(
        "contact_id",
        "owner_id",
        "currency_code",
        "lines",
        "global_discount_percent",
        "valid_until",
        "terms",
        "notes",
    ),
    immutable=frozenset(
        {
            "id",
            "number",
            "revision",
            "root_number",
            "revises_quote_id",
            "superseded_by_quote_id",
            "deal_id",
            "client_id",
            "subtotal",
            "discount_total",
            "tax_totals",
            "tax_total",
            "total",
            "status",
            "rejection_reason",
            "send_time",
            "accept_time",
            "reject_time",
            "expire_time",
            "create_time",
            "update_time",
            "version",
        }
    ),
)


class QuoteStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


# What ReviseQuote may supersede.
REVISABLE = frozenset({QuoteStatus.SENT, QuoteStatus.REJECTED, QuoteStatus.EXPIRED})


@dataclass(frozen=True)
class LineDraft:
    """A line as a request gives it: the product, the quantity, and optionally what overrides the
    product's snapshot (None / "" = take it from the product)."""

    product_id: str
    quantity: Decimal | None
    unit_price: Decimal | None = None
    unit_price_currency: str = ""
    discount_percent: Decimal = ZERO
    tax_rate: Decimal | None = None
    sku: str = ""
    description: str = ""
    unit_of_measure: str = ""


@dataclass(frozen=True)
class QuoteLine:
    id: str
    product_id: str
    sku: str
    description: str
    unit_of_measure: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal
    tax_rate: Decimal
    amounts: LineAmounts


@dataclass(frozen=True)
class Quote:
    id: str
    deal_id: str
    owner_id: str
    currency: str
    client_id: str = ""
    contact_id: str = ""
    number: str = ""
    revision: int = 0
    root_number: str = ""
    revises_quote_id: str = ""
    superseded_by_quote_id: str = ""
    lines: tuple[QuoteLine, ...] = ()
    global_discount_percent: Decimal = ZERO
    totals: Totals | None = None
    valid_until: date | None = None
    terms: str = ""
    notes: str = ""
    status: QuoteStatus = QuoteStatus.DRAFT
    rejection_reason: str = ""
    send_time: datetime | None = None
    accept_time: datetime | None = None
    reject_time: datetime | None = None
    expire_time: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def search_text(self) -> str:
        """What a list's text query matches: number, terms, line SKUs and descriptions."""
        return search_text(self.number, self.terms, *(f"{ln.sku} {ln.description}" for ln in self.lines))


# --- Time: validity in the company's time zone ---------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The company's time zone: a quote is valid through the whole of its valid_until day there."""

    zone: ZoneInfo

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def end_of(self, day: date) -> datetime:
        """The instant (UTC) a quote valid until `day` expires: the next midnight in the company's zone."""
        return datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)


def effective(quote: Quote, calendar: Calendar, now: datetime) -> Quote:
    """The quote as every read reports it: a sent quote whose valid_until day has ended in the
    company's zone is EXPIRED (expired at the end of that day), whether or not the sweep has
    stored it yet."""
    if quote.status == QuoteStatus.SENT and quote.valid_until is not None:
        expires = calendar.end_of(quote.valid_until)
        if now >= expires:
            return replace(quote, status=QuoteStatus.EXPIRED, expire_time=expires)
    return quote


# --- Numbering ------------------------------------------------------------------------------------


def quote_number(year: int, sequence: int) -> str:
    """COT-2026-0007: gapless per year (a counter row advanced in the quote's own transaction)."""
    return f"{NUMBER_PREFIX}-{year}-{sequence:04d}"


def revision_number(root_number: str, revision: int) -> str:
    """COT-2026-0007-R2: the root's number and the revision."""
    return f"{root_number}-R{revision}"


# --- Validation and pricing ----------------------------------------------------------------------


def check_header(quote: Quote, problems: list[FieldViolation], today: date | None) -> Quote:
    """The quote's own fields (not its lines) normalised, each problem added to `problems`.
    `today` (in the company's zone) is checked against valid_until unless None."""
    currency = quote.currency.strip().upper()
    if not is_known_currency(currency):
        problems.append(FieldViolation("currency_code", f"'{currency}' is not an ISO 4217 currency code"))
    if not quote.deal_id:
        problems.append(FieldViolation("deal_id", "is required"))
    check_length(quote.deal_id, "deal_id", ID_MAX, problems)
    check_length(quote.contact_id, "contact_id", ID_MAX, problems)
    check_length(quote.owner_id, "owner_id", ID_MAX, problems)
    if not quote.owner_id:
        problems.append(FieldViolation("owner_id", "is required"))
    gd = quote.global_discount_percent
    if not ZERO <= gd <= HUNDRED:
        problems.append(FieldViolation("global_discount_percent", f"must be from 0 to 100, got {gd}"))
    if quote.valid_until is None:
        problems.append(FieldViolation("valid_until", "is required"))
    elif today is not None and quote.valid_until < today:
        problems.append(FieldViolation("valid_until", f"{quote.valid_until} has passed (today is {today})"))
    check_length(quote.terms, "terms", TERMS_MAX, problems)
    check_length(quote.notes, "notes", TERMS_MAX, problems)
    return replace(quote, currency=currency, terms=quote.terms.strip(), notes=quote.notes.strip())


def _check_line(
    i: int, draft: LineDraft, currency: str, problems: list[FieldViolation]
) -> tuple[Decimal, Decimal] | None:
    """A line's quantity and discount checked (quantity > 0, discount 0-100, a given unit price
    not negative and in the quote's currency, a given tax rate 0-1); None when bad."""
    at = f"lines[{i}]"
    before = len(problems)
    if not draft.product_id:
        problems.append(FieldViolation(f"{at}.product_id", "is required"))
    check_length(draft.product_id, f"{at}.product_id", ID_MAX, problems)
    q = draft.quantity
    if q is None:
        problems.append(FieldViolation(f"{at}.quantity", "is required: a decimal greater than 0"))
    elif q <= 0:
        problems.append(FieldViolation(f"{at}.quantity", f"must be greater than 0, got {q}"))
    elif decimal_places(q) > 6:
        problems.append(FieldViolation(f"{at}.quantity", "must have at most 6 decimal places"))
    d = draft.discount_percent
    if not ZERO <= d <= HUNDRED:
        problems.append(FieldViolation(f"{at}.discount_percent", f"must be from 0 to 100, got {d}"))
    p = draft.unit_price
    if p is not None:
        if p < 0:
            problems.append(FieldViolation(f"{at}.unit_price.amount", f"must not be negative, got {p}"))
        elif decimal_places(p) > 6:
            problems.append(FieldViolation(f"{at}.unit_price.amount", "must have at most 6 decimal places"))
        cur = draft.unit_price_currency.strip().upper()
        if cur and cur != currency:
            problems.append(
                FieldViolation(f"{at}.unit_price.currency_code", f"must be the quote's currency {currency}, not {cur}")
            )
    r = draft.tax_rate
    if r is not None and not ZERO <= r <= 1:
        problems.append(FieldViolation(f"{at}.tax_rate", f"must be a fraction from 0 to 1 (0.19 is 19 %), got {r}"))
    check_length(draft.description, f"{at}.description", TEXT_MAX, problems)
    check_length(draft.sku, f"{at}.sku", 64, problems)
    check_length(draft.unit_of_measure, f"{at}.unit_of_measure", 50, problems)
    if len(problems) > before or q is None:
        return None
    return q, d


def priced_lines(
    drafts: Sequence[LineDraft],
    products: Mapping[str, Product],
    currency: str,
    global_discount_percent: Decimal,
    new_line_id: Callable[[], str],
    *,
    kept_product_ids: frozenset[str] = frozenset(),
) -> tuple[QuoteLine, ...]:
    """The lines of `drafts` priced: each takes the snapshot of its product (`products` by id)
    where the draft gives nothing, and its amounts by the rule of domain.totals. Bad values are
    InvalidArgument naming every field; a product that does not exist, or is inactive (unless it
    is already on the quote: `kept_product_ids`), is FailedPrecondition naming the line."""
    problems: list[FieldViolation] = []
    if not drafts:
        problems.append(FieldViolation("lines", "a quote needs at least one line"))
    if len(drafts) > MAX_LINES:
        raise InvalidArgument.field("lines", f"at most {MAX_LINES} lines, got {len(drafts)}")
    checked = [_check_line(i, d, currency, problems) for i, d in enumerate(drafts)]
    if problems:
        raise InvalidArgument(problems)
    for i, draft in enumerate(drafts):
        product = products.get(draft.product_id)
        if product is None:
            raise FailedPrecondition(
                f"lines[{i}].product_id: product '{draft.product_id}' does not exist",
                reason="product_not_found",
                metadata={"field": f"lines[{i}].product_id", "product_id": draft.product_id},
            )
        if not product.active and draft.product_id not in kept_product_ids:
            raise FailedPrecondition(
                f"lines[{i}].product_id: product '{product.sku}' is inactive and cannot be added to a quote",
                reason="product_inactive",
                metadata={"field": f"lines[{i}].product_id", "product_id": draft.product_id},
            )
        if draft.unit_price is None and product.currency != currency:
            problems.append(
                FieldViolation(
                    f"lines[{i}].unit_price",
                    f"product '{product.sku}' is priced in {product.currency}, the quote is in {currency}: "
                    f"give the line's unit price in {currency}",
                )
            )
    if problems:
        raise InvalidArgument(problems)
    lines: list[QuoteLine] = []
    for i, (draft, ok) in enumerate(zip(drafts, checked, strict=True)):
        assert ok is not None
        quantity, discount = ok
        product = products[draft.product_id]
        price = draft.unit_price if draft.unit_price is not None else product.unit_price
        rate = draft.tax_rate if draft.tax_rate is not None else product.tax_rate
        assert price is not None and rate is not None
        amounts = totals.line_amounts(quantity, price, discount, rate, global_discount_percent, currency)
        if totals.too_large(amounts.subtotal) or totals.too_large(amounts.total):
            problems.append(FieldViolation(f"lines[{i}].quantity", "the line's amount is too large to store"))
        lines.append(
            QuoteLine(
                id=new_line_id(),
                product_id=product.id,
                sku=draft.sku.strip() or product.sku,
                description=draft.description.strip() or product.name,
                unit_of_measure=draft.unit_of_measure.strip() or product.unit_of_measure,
                quantity=quantity + 0,
                unit_price=price + 0,
                discount_percent=discount.normalize() + 0,
                tax_rate=rate.normalize() + 0,
                amounts=amounts,
            )
        )
    if problems:
        raise InvalidArgument(problems)
    return tuple(lines)


def repriced(lines: Sequence[QuoteLine], global_discount_percent: Decimal, currency: str) -> tuple[QuoteLine, ...]:
    """The same lines (snapshots kept) with amounts recomputed, after the global discount changed."""
    return tuple(
        replace(
            ln,
            amounts=totals.line_amounts(
                ln.quantity, ln.unit_price, ln.discount_percent, ln.tax_rate, global_discount_percent, currency
            ),
        )
        for ln in lines
    )


def with_totals(quote: Quote) -> Quote:
    """The quote with its figures summed from its lines; InvalidArgument when too large to store."""
    figures = totals.quote_totals(
        [ln.amounts for ln in quote.lines], [ln.tax_rate for ln in quote.lines], quote.currency
    )
    if totals.too_large(figures.subtotal) or totals.too_large(figures.total):
        raise InvalidArgument.field("lines", "the quote's total is too large to store")
    return replace(quote, totals=figures)


# --- Life cycle ----------------------------------------------------------------------------------


def _not_in(quote: Quote, action: str, allowed: str, reason: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"quote {quote.number} is {quote.status.value}: only {allowed} can be {action}",
        reason=reason,
        metadata={"id": quote.id, "status": quote.status.value},
    )


def check_editable(quote: Quote) -> None:
    if quote.status != QuoteStatus.DRAFT:
        raise _not_in(quote, "changed", "a draft", "quote_not_editable")


def check_deletable(quote: Quote) -> None:
    check_editable(quote)
    if quote.revision > 0:
        raise FailedPrecondition(
            f"quote {quote.number} is a revision of {quote.root_number}: a revision is not deleted "
            "(change it, or send it and reject it)",
            reason="quote_is_revision",
            metadata={"id": quote.id},
        )


def sent(quote: Quote, now: datetime, today: date) -> Quote:
    """A draft marked as delivered to the client: its content is frozen from now on."""
    if quote.status != QuoteStatus.DRAFT:
        raise _not_in(quote, "sent", "a draft", "quote_not_draft")
    if not quote.lines:
        raise FailedPrecondition(f"quote {quote.number} has no lines", reason="quote_empty", metadata={"id": quote.id})
    if quote.valid_until is None or quote.valid_until < today:
        raise FailedPrecondition(
            f"quote {quote.number} was valid until {quote.valid_until}, which has passed: set a new valid_until first",
            reason="quote_validity_passed",
            metadata={"id": quote.id, "field": "valid_until"},
        )
    return replace(quote, status=QuoteStatus.SENT, send_time=now)


def _check_answerable(quote: Quote, action: str) -> None:
    if quote.status == QuoteStatus.EXPIRED:
        raise FailedPrecondition(
            f"quote {quote.number} expired at the end of {quote.valid_until}: it can no longer be {action} "
            "(revise it to send a new one)",
            reason="quote_expired",
            metadata={"id": quote.id, "status": quote.status.value},
        )
    if quote.status != QuoteStatus.SENT:
        raise _not_in(quote, action, "a sent quote", "quote_not_sent")


def accepted(quote: Quote, now: datetime) -> Quote:
    """`quote` as read (effective status): only a sent quote still valid can be accepted."""
    _check_answerable(quote, "accepted")
    return replace(quote, status=QuoteStatus.ACCEPTED, accept_time=now)


def rejected(quote: Quote, reason: str, now: datetime) -> Quote:
    _check_answerable(quote, "rejected")
    if len(reason) > TEXT_MAX:
        raise InvalidArgument.field("reason", f"must be at most {TEXT_MAX} characters")
    return replace(quote, status=QuoteStatus.REJECTED, rejection_reason=reason.strip(), reject_time=now)


def revision_of(quote: Quote, new_id: str, now: datetime, new_line_id: Callable[[], str]) -> tuple[Quote, Quote]:
    """(the superseded quote, its new draft revision). The revision copies every line with its
    snapshot; its number keeps the root's ("COT-2026-0007-R2")."""
    if quote.status not in REVISABLE:
        raise FailedPrecondition(
            f"quote {quote.number} is {quote.status.value}: only a sent, rejected or expired quote can be revised",
            reason="quote_not_revisable",
            metadata={"id": quote.id, "status": quote.status.value},
        )
    revision = quote.revision + 1
    root = quote.root_number or quote.number
    draft = replace(
        quote,
        id=new_id,
        number=revision_number(root, revision),
        revision=revision,
        root_number=root,
        revises_quote_id=quote.id,
        superseded_by_quote_id="",
        lines=tuple(replace(ln, id=new_line_id()) for ln in quote.lines),
        status=QuoteStatus.DRAFT,
        rejection_reason="",
        send_time=None,
        accept_time=None,
        reject_time=None,
        expire_time=None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    old = replace(quote, status=QuoteStatus.SUPERSEDED, superseded_by_quote_id=new_id)
    return old, draft


def check_version_of(quote: Quote, expected_version: int) -> None:
    check_version("quote", quote.id, quote.version, expected_version)
