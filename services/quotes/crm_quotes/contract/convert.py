"""Translation between protobuf messages and domain objects (the only place that knows both):
requests, responses and the integration events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from google.protobuf.message import Message

from crm.common.v1 import types_pb2
from crm.quotes.v1 import events_pb2, quotes_pb2
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.import_files import FileFormat
from crm_platform.importing import ImportReport
from crm_platform.money import is_known_currency, minor_unit_exponent
from crm_platform.protoconv import EnumMap, date_from_proto, date_to_proto
from crm_quotes.domain.common import parse_decimal, parse_percent, parse_tax_rate, plain
from crm_quotes.domain.products import PriceChange, Product, ProductKind
from crm_quotes.domain.quotes import LineDraft, Quote, QuoteStatus

PRODUCT_KINDS = EnumMap(
    "product kind",
    {ProductKind.PRODUCT: quotes_pb2.PRODUCT_KIND_PRODUCT, ProductKind.SERVICE: quotes_pb2.PRODUCT_KIND_SERVICE},
)
QUOTE_STATUSES = EnumMap(
    "quote status",
    {
        QuoteStatus.DRAFT: quotes_pb2.QUOTE_STATUS_DRAFT,
        QuoteStatus.SENT: quotes_pb2.QUOTE_STATUS_SENT,
        QuoteStatus.ACCEPTED: quotes_pb2.QUOTE_STATUS_ACCEPTED,
        QuoteStatus.REJECTED: quotes_pb2.QUOTE_STATUS_REJECTED,
        QuoteStatus.EXPIRED: quotes_pb2.QUOTE_STATUS_EXPIRED,
        QuoteStatus.SUPERSEDED: quotes_pb2.QUOTE_STATUS_SUPERSEDED,
    },
)


def _ts(msg: Message, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(msg, field).FromDatetime(value)


def money(amount: Decimal, currency: str) -> types_pb2.Money:
    """An amount as the API writes it, the same from either database: no trailing zeros beyond
    the currency's minor unit ("357.00" USD, "1250000.5" and "7104" CLP, a price "0.005" USD)."""
    digits = minor_unit_exponent(currency) if is_known_currency(currency) else 2
    value = amount.normalize()
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent < digits:
        value = value.quantize(Decimal(1).scaleb(-digits))
    return types_pb2.Money(currency_code=currency, amount=format(value, "f"))


def product_kind_from_proto(value: int, field: str = "kind") -> ProductKind | None:
    return PRODUCT_KINDS.from_proto(value, field)


def quote_status_from_proto(value: int, field: str = "status") -> QuoteStatus | None:
    return QUOTE_STATUSES.from_proto(value, field)


def product_from_proto(msg: quotes_pb2.Product) -> Product:
    """A draft product (values not yet validated; unparseable numbers are InvalidArgument)."""
    problems: list[FieldViolation] = []
    price = None
    if msg.unit_price.amount.strip():
        price = parse_decimal(msg.unit_price.amount, "unit_price.amount", problems)
    rate = parse_tax_rate(msg.tax_rate, "tax_rate", problems) if msg.tax_rate.strip() else None
    kind = product_kind_from_proto(msg.kind)
    if problems:
        raise InvalidArgument(problems)
    return Product(
        id=msg.id,
        sku=msg.sku,
        name=msg.name,
        kind=kind,
        unit_price=price,
        currency=msg.unit_price.currency_code,
        tax_rate=rate,
        description=msg.description,
        unit_of_measure=msg.unit_of_measure,
        active=msg.active,
    )


def product_to_proto(p: Product) -> quotes_pb2.Product:
    assert p.unit_price is not None and p.tax_rate is not None
    msg = quotes_pb2.Product(
        id=p.id,
        sku=p.sku,
        name=p.name,
        description=p.description,
        kind=PRODUCT_KINDS.to_proto(p.kind) if p.kind else quotes_pb2.PRODUCT_KIND_UNSPECIFIED,
        unit_of_measure=p.unit_of_measure,
        unit_price=money(p.unit_price, p.currency),
        tax_rate=plain(p.tax_rate),
        active=p.active,
        version=p.version,
    )
    _ts(msg, "create_time", p.created_at)
    _ts(msg, "update_time", p.updated_at)
    return msg


def price_change_to_proto(c: PriceChange) -> quotes_pb2.PriceChange:
    msg = quotes_pb2.PriceChange(
        product_id=c.product_id,
        unit_price=money(c.unit_price, c.currency),
        tax_rate=plain(c.tax_rate),
        changed_by=c.changed_by,
        product_version=c.product_version,
    )
    if c.previous_unit_price is not None:
        msg.previous_unit_price.CopyFrom(money(c.previous_unit_price, c.previous_currency))
    if c.previous_tax_rate is not None:
        msg.previous_tax_rate = plain(c.previous_tax_rate)
    _ts(msg, "change_time", c.changed_at)
    return msg


def line_drafts_from_proto(lines: list[quotes_pb2.QuoteLine]) -> tuple[LineDraft, ...]:
    """The lines as a request gives them; amounts are ignored (the service computes them)."""
    problems: list[FieldViolation] = []
    drafts = []
    for i, ln in enumerate(lines):
        at = f"lines[{i}]"
        quantity = parse_decimal(ln.quantity, f"{at}.quantity", problems) if ln.quantity.strip() else None
        price = None
        if ln.HasField("unit_price") and ln.unit_price.amount.strip():
            price = parse_decimal(ln.unit_price.amount, f"{at}.unit_price.amount", problems)
        rate = parse_tax_rate(ln.tax_rate, f"{at}.tax_rate", problems) if ln.tax_rate.strip() else None
        discount = parse_percent(ln.discount_percent, f"{at}.discount_percent", problems)
        drafts.append(
            LineDraft(
                product_id=ln.product_id.strip(),
                quantity=quantity,
                unit_price=price,
                unit_price_currency=ln.unit_price.currency_code,
                discount_percent=discount if discount is not None else Decimal(0),
                tax_rate=rate,
                sku=ln.sku,
                description=ln.description,
                unit_of_measure=ln.unit_of_measure,
            )
        )
    if problems:
        raise InvalidArgument(problems)
    return tuple(drafts)


def quote_from_proto(msg: quotes_pb2.Quote) -> tuple[Quote, tuple[LineDraft, ...]]:
    """A draft quote's own fields, and its lines as given."""
    problems: list[FieldViolation] = []
    discount = parse_percent(msg.global_discount_percent, "global_discount_percent", problems)
    drafts: tuple[LineDraft, ...] = ()
    try:
        drafts = line_drafts_from_proto(list(msg.lines))
    except InvalidArgument as exc:
        problems += exc.violations
    try:
        valid_until = date_from_proto(msg, "valid_until")
    except InvalidArgument as exc:
        problems += exc.violations
        valid_until = None
    if problems:
        raise InvalidArgument(problems)
    quote = Quote(
        id=msg.id,
        deal_id=msg.deal_id.strip(),
        owner_id=msg.owner_id.strip(),
        currency=msg.currency_code,
        client_id=msg.client_id.strip(),
        contact_id=msg.contact_id.strip(),
        global_discount_percent=discount if discount is not None else Decimal(0),
        valid_until=valid_until,
        terms=msg.terms,
        notes=msg.notes,
    )
    return quote, drafts


def quote_to_proto(q: Quote) -> quotes_pb2.Quote:
    assert q.totals is not None
    cur = q.currency
    msg = quotes_pb2.Quote(
        id=q.id,
        number=q.number,
        revision=q.revision,
        root_number=q.root_number,
        revises_quote_id=q.revises_quote_id,
        superseded_by_quote_id=q.superseded_by_quote_id,
        deal_id=q.deal_id,
        client_id=q.client_id,
        contact_id=q.contact_id,
        owner_id=q.owner_id,
        currency_code=cur,
        lines=[
            quotes_pb2.QuoteLine(
                id=ln.id,
                product_id=ln.product_id,
                sku=ln.sku,
                description=ln.description,
                unit_of_measure=ln.unit_of_measure,
                quantity=plain(ln.quantity),
                unit_price=money(ln.unit_price, cur),
                discount_percent=plain(ln.discount_percent),
                tax_rate=plain(ln.tax_rate),
                subtotal=money(ln.amounts.subtotal, cur),
                discount=money(ln.amounts.discount, cur),
                tax=money(ln.amounts.tax, cur),
                total=money(ln.amounts.total, cur),
            )
            for ln in q.lines
        ],
        global_discount_percent=plain(q.global_discount_percent),
        subtotal=money(q.totals.subtotal, cur),
        discount_total=money(q.totals.discount_total, cur),
        tax_totals=[
            quotes_pb2.TaxTotal(tax_rate=plain(t.rate), taxable_amount=money(t.taxable, cur), tax=money(t.tax, cur))
            for t in q.totals.tax_totals
        ],
        tax_total=money(q.totals.tax_total, cur),
        total=money(q.totals.total, cur),
        terms=q.terms,
        notes=q.notes,
        status=QUOTE_STATUSES.to_proto(q.status),
        rejection_reason=q.rejection_reason,
        version=q.version,
    )
    if q.valid_until is not None:
        msg.valid_until.CopyFrom(date_to_proto(q.valid_until))
    for field, value in (
        ("send_time", q.send_time),
        ("accept_time", q.accept_time),
        ("reject_time", q.reject_time),
        ("expire_time", q.expire_time),
        ("create_time", q.created_at),
        ("update_time", q.updated_at),
    ):
        _ts(msg, field, value)
    return msg


# --- Imports ------------------------------------------------------------------------------------

_FORMAT_FROM_PROTO = {quotes_pb2.IMPORT_FORMAT_CSV: FileFormat.CSV, quotes_pb2.IMPORT_FORMAT_XLSX: FileFormat.XLSX}


def import_format_from_proto(value: quotes_pb2.ImportFormat) -> FileFormat | None:
    """The file format asked for (None = detect it from the file); INVALID_ARGUMENT when unknown."""
    file_format = _FORMAT_FROM_PROTO.get(value)
    if value and file_format is None:
        raise InvalidArgument.field("format", f"unknown import format {value}")
    return file_format


def import_report_to_proto(report: ImportReport, dry_run: bool) -> quotes_pb2.ImportProductsResponse:
    return quotes_pb2.ImportProductsResponse(
        total_rows=report.total_rows,
        created=report.created,
        duplicates=len(report.duplicates),
        failed=report.failed,
        problems=[
            quotes_pb2.ImportRowProblem(row=p.row, field=p.field, message=p.message) for p in report.listed_problems()
        ],
        duplicate_rows=[
            quotes_pb2.ImportDuplicate(row=d.row, existing_id=d.existing_id, field=d.field) for d in report.duplicates
        ],
        created_ids=[i for i in report.created_ids if i],
        dry_run=dry_run,
        created_rows=report.created_rows,
    )


# --- Integration events -------------------------------------------------------------------------


def product_created(p: Product) -> events_pb2.ProductCreated:
    return events_pb2.ProductCreated(product=product_to_proto(p))


def product_updated(p: Product, changed_fields: list[str]) -> events_pb2.ProductUpdated:
    return events_pb2.ProductUpdated(product=product_to_proto(p), changed_fields=changed_fields)


def product_price_changed(p: Product, change: PriceChange) -> events_pb2.ProductPriceChanged:
    return events_pb2.ProductPriceChanged(product=product_to_proto(p), price_change=price_change_to_proto(change))


def product_deleted(p: Product) -> events_pb2.ProductDeleted:
    return events_pb2.ProductDeleted(product=product_to_proto(p))


def quote_created(q: Quote) -> events_pb2.QuoteCreated:
    return events_pb2.QuoteCreated(quote=quote_to_proto(q))


def quote_updated(q: Quote, changed_fields: list[str]) -> events_pb2.QuoteUpdated:
    return events_pb2.QuoteUpdated(quote=quote_to_proto(q), changed_fields=changed_fields)


def quote_sent(q: Quote) -> events_pb2.QuoteSent:
    return events_pb2.QuoteSent(quote=quote_to_proto(q))


def quote_accepted(q: Quote) -> events_pb2.QuoteAccepted:
    return events_pb2.QuoteAccepted(quote=quote_to_proto(q))


def quote_rejected(q: Quote) -> events_pb2.QuoteRejected:
    return events_pb2.QuoteRejected(quote=quote_to_proto(q))


def quote_expired(q: Quote) -> events_pb2.QuoteExpired:
    return events_pb2.QuoteExpired(quote=quote_to_proto(q))


def quote_superseded(q: Quote) -> events_pb2.QuoteSuperseded:
    return events_pb2.QuoteSuperseded(quote=quote_to_proto(q))


def quote_deleted(q: Quote) -> events_pb2.QuoteDeleted:
    return events_pb2.QuoteDeleted(quote=quote_to_proto(q))
