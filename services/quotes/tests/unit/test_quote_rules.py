"""Quote and product rules without I/O: numbering, the life cycle (who may go where, with the
message a refusal carries), expiry at the end of the valid_until day in the company's zone, the
revision's number and copied snapshot, line checks, and the product's validation and price
history entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument
from crm_quotes.domain import products as product_rules
from crm_quotes.domain.products import Product, ProductKind
from crm_quotes.domain.quotes import (
    Calendar,
    LineDraft,
    Quote,
    QuoteStatus,
    accepted,
    check_editable,
    check_version_of,
    effective,
    priced_lines,
    quote_number,
    rejected,
    revision_number,
    revision_of,
    sent,
    with_totals,
)

BOGOTA = Calendar(ZoneInfo("America/Bogota"))
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PRODUCT = Product(id="p1", sku="CAM-1", name="Cámara", kind=ProductKind.PRODUCT, unit_price=D("100"),
                  currency="USD", tax_rate=D("0.19"))  # fmt: skip


def _ids() -> object:
    counter = iter(range(1000))
    return lambda: f"id-{next(counter)}"


def _quote(**kw: object) -> Quote:
    lines = priced_lines([LineDraft("p1", D(2))], {"p1": PRODUCT}, "USD", D(0), _ids())
    base = Quote(id="q1", deal_id="d1", owner_id="o1", currency="USD", number="COT-2026-0007",
                 root_number="COT-2026-0007", lines=lines, valid_until=date(2026, 3, 10))  # fmt: skip
    return with_totals(replace(base, **kw))  # type: ignore[arg-type]


def test_numbers_are_per_year_with_four_digits_and_revisions_keep_their_root() -> None:
    assert quote_number(2026, 7) == "COT-2026-0007" and quote_number(2027, 12345) == "COT-2027-12345"
    assert revision_number("COT-2026-0007", 2) == "COT-2026-0007-R2"


def test_a_draft_is_sent_then_accepted_or_rejected() -> None:
    q = sent(_quote(), NOW, date(2026, 3, 2))
    assert q.status == QuoteStatus.SENT and q.send_time == NOW
    assert accepted(q, NOW).status == QuoteStatus.ACCEPTED
    r = rejected(q, "  Muy caro ", NOW)
    assert r.status == QuoteStatus.REJECTED and r.rejection_reason == "Muy caro"
    with pytest.raises(FailedPrecondition, match="only a draft can be changed") as err:
        check_editable(q)
    assert err.value.reason == "quote_not_editable"
    with pytest.raises(FailedPrecondition) as err:
        accepted(_quote(), NOW)
    assert err.value.reason == "quote_not_sent"
    with pytest.raises(FailedPrecondition, match="has passed"):
        sent(_quote(valid_until=date(2026, 3, 1)), NOW, date(2026, 3, 2))


def test_a_sent_quote_expires_at_the_end_of_its_last_day_in_the_company_zone() -> None:
    q = sent(_quote(), NOW, date(2026, 3, 2))
    last_minute = datetime(2026, 3, 11, 4, 59, tzinfo=UTC)  # 23:59 on 10 March in Bogotá
    assert effective(q, BOGOTA, last_minute).status == QuoteStatus.SENT
    gone = effective(q, BOGOTA, datetime(2026, 3, 11, 5, 0, tzinfo=UTC))
    assert gone.status == QuoteStatus.EXPIRED and gone.expire_time == datetime(2026, 3, 11, 5, 0, tzinfo=UTC)
    with pytest.raises(FailedPrecondition, match="expired at the end of 2026-03-10") as err:
        accepted(gone, NOW)
    assert err.value.reason == "quote_expired"
    # A draft or an answered quote does not expire.
    assert effective(_quote(), BOGOTA, datetime(2030, 1, 1, tzinfo=UTC)).status == QuoteStatus.DRAFT
    assert effective(accepted(q, NOW), BOGOTA, datetime(2030, 1, 1, tzinfo=UTC)).status == QuoteStatus.ACCEPTED
    assert BOGOTA.today(datetime(2026, 3, 3, 4, 0, tzinfo=UTC)) == date(2026, 3, 2)


def test_a_revision_copies_the_lines_and_supersedes_the_quote() -> None:
    q = sent(_quote(), NOW, date(2026, 3, 2))
    old, new = revision_of(q, "q2", NOW, lambda: "fresh-line")
    assert old.status == QuoteStatus.SUPERSEDED and old.superseded_by_quote_id == "q2"
    assert (new.id, new.number, new.revision, new.root_number, new.revises_quote_id) == (
        "q2", "COT-2026-0007-R1", 1, "COT-2026-0007", "q1",
    )  # fmt: skip
    assert new.status == QuoteStatus.DRAFT and new.send_time is None and new.version == 1
    assert [ln.unit_price for ln in new.lines] == [ln.unit_price for ln in q.lines]
    assert {ln.id for ln in new.lines}.isdisjoint({ln.id for ln in q.lines})
    _, newer = revision_of(replace(new, status=QuoteStatus.REJECTED), "q3", NOW, _ids())
    assert newer.number == "COT-2026-0007-R2"
    with pytest.raises(FailedPrecondition) as err:
        revision_of(_quote(), "q9", NOW, _ids())
    assert err.value.reason == "quote_not_revisable"


def test_line_checks_name_every_bad_field() -> None:
    drafts = [
        LineDraft("p1", D(-1)),
        LineDraft("p1", D(1), unit_price=D(-2), discount_percent=D(101)),
        LineDraft("p1", D(1), unit_price=D(2), unit_price_currency="EUR", tax_rate=D("1.5")),
    ]
    with pytest.raises(InvalidArgument) as err:
        priced_lines(drafts, {"p1": PRODUCT}, "USD", D(0), _ids())
    assert {v.field for v in err.value.violations} == {
        "lines[0].quantity",
        "lines[1].unit_price.amount",
        "lines[1].discount_percent",
        "lines[2].unit_price.currency_code",
        "lines[2].tax_rate",
    }
    with pytest.raises(InvalidArgument, match="priced in USD, the quote is in COP"):
        priced_lines([LineDraft("p1", D(1))], {"p1": PRODUCT}, "COP", D(0), _ids())
    off = replace(PRODUCT, active=False)
    with pytest.raises(FailedPrecondition, match="inactive") as fp:
        priced_lines([LineDraft("p1", D(1))], {"p1": off}, "USD", D(0), _ids())
    assert fp.value.metadata["field"] == "lines[0].product_id"
    kept = priced_lines([LineDraft("p1", D(1))], {"p1": off}, "USD", D(0), _ids(), kept_product_ids=frozenset({"p1"}))
    assert kept[0].product_id == "p1"
    with pytest.raises(FailedPrecondition, match="does not exist"):
        priced_lines([LineDraft("zz", D(1))], {"p1": PRODUCT}, "USD", D(0), _ids())
    with pytest.raises(InvalidArgument, match="too large"):
        priced_lines([LineDraft("p1", D(10) ** 17)], {"p1": PRODUCT}, "USD", D(0), _ids())


def test_a_stale_version_is_a_conflict() -> None:
    check_version_of(_quote(), 1)
    check_version_of(_quote(), 0)
    with pytest.raises(Conflict):
        check_version_of(_quote(), 2)


def test_a_product_is_normalised_and_its_price_changes_are_recorded() -> None:
    p = product_rules.validated(replace(PRODUCT, sku=" cam-1 ", name=" Cámara ", currency="usd",
                                        unit_of_measure="", tax_rate=D("0.190")))  # fmt: skip
    assert (p.sku, p.name, p.currency, p.unit_of_measure, str(p.tax_rate)) == ("CAM-1", "Cámara", "USD", "unit", "0.19")
    after, changed = product_rules.updated(p, replace(p, unit_price=D("120"), name="Otra"), ["unit_price"])
    assert changed == ["unit_price"] and after.name == "Cámara"
    entry = product_rules.price_change(p, after, "u1", NOW)
    assert (entry.previous_unit_price, entry.unit_price, entry.changed_by) == (D("100"), D("120"), "u1")
    moved, changed = product_rules.updated(p, replace(p, currency="EUR"), ["unit_price"])
    assert moved.currency == "EUR" and changed == ["unit_price"]
    with pytest.raises(InvalidArgument) as err:
        product_rules.validated(replace(PRODUCT, sku="A B", unit_price=D("-1"), tax_rate=D(2), kind=None))
    assert {v.field for v in err.value.violations} == {"sku", "unit_price.amount", "tax_rate", "kind"}
