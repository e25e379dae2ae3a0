"""Quotes over real gRPC with a real database (deals and contacts services faked in-process):
lines priced from the catalogue with a snapshot that later price changes never alter, the totals
as stored and read back, the deal's client, contact, owner and currency, bad input answered with a
clear status and nothing changed, only drafts editable, the life cycle draft → sent → accepted |
rejected | expired (expiry on every read, without the sweep), revisions, and the events that carry
the whole quote."""

from __future__ import annotations

from datetime import date, timedelta

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.common.v1 import types_pb2
from crm.quotes.v1 import events_pb2, quotes_pb2
from crm_platform.grpc_client import decode_error
from crm_platform.nats_server import NatsServer
from crm_platform.testing import wait_for_event
from crm_quotes.service_layer.quotes import expire_due_quotes

from .conftest import OWNER, QuotesWorld

BAD = "INVALID_ARGUMENT"
NOT_NOW = "FAILED_PRECONDITION"
UNKNOWN = "0192d6e0-0000-7000-8000-00000000dead"


def _error(call: object) -> object:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return decode_error(err.value)


def _get(world: QuotesWorld, quote_id: str) -> quotes_pb2.Quote:
    return world.stub.GetQuote(quotes_pb2.GetQuoteRequest(id=quote_id), timeout=5).quote


def _date(d: date) -> types_pb2.Date:
    return types_pb2.Date(year=d.year, month=d.month, day=d.day)


def test_a_quote_is_priced_from_the_catalogue_and_numbered(world: QuotesWorld) -> None:
    deal = world.deals.add(currency="USD")
    a = world.product("A-1", price="100", rate="0.19", name="Router empresarial", unit_of_measure="unidad")
    b = world.product("B-1", price="50", rate="0.05")
    c = world.product("C-1", price="10", rate="0")
    req = world.quote_request(deal, [(a.id, "2"), (b.id, "1"), (c.id, "3")], terms="Pago a 30 días")
    req.quote.lines[1].discount_percent = "10"
    req.quote.global_discount_percent = "10"
    quote = world.stub.CreateQuote(req, timeout=5).quote

    year = world.today().year
    assert quote.number == f"COT-{year}-0001" and quote.root_number == quote.number and quote.revision == 0
    assert quote.status == quotes_pb2.QUOTE_STATUS_DRAFT and quote.version == 1
    assert (quote.deal_id, quote.client_id, quote.contact_id) == (deal.id, deal.client_id, deal.contact_ids[0])
    assert quote.owner_id == OWNER and quote.currency_code == "USD"
    assert quote.valid_until == _date(world.today() + timedelta(days=30))
    first = quote.lines[0]
    assert (first.sku, first.description, first.unit_of_measure, first.unit_price.amount) == (
        "A-1",
        "Router empresarial",
        "unidad",
        "100.00",
    )
    assert [(ln.subtotal.amount, ln.discount.amount, ln.tax.amount, ln.total.amount) for ln in quote.lines] == [
        ("200.00", "20.00", "34.20", "214.20"),
        ("50.00", "9.50", "2.03", "42.53"),
        ("30.00", "3.00", "0.00", "27.00"),
    ]
    assert (quote.subtotal.amount, quote.discount_total.amount, quote.tax_total.amount, quote.total.amount) == (
        "280.00",
        "32.50",
        "36.23",
        "283.73",
    )
    assert [(t.tax_rate, t.taxable_amount.amount, t.tax.amount) for t in quote.tax_totals] == [
        ("0", "27.00", "0.00"),
        ("0.05", "40.50", "2.03"),
        ("0.19", "180.00", "34.20"),
    ]
    assert _get(world, quote.id) == quote
    second = world.quote(deal, [(a.id, "1")])
    assert second.number == f"COT-{year}-0002"


def test_a_later_price_change_never_alters_an_existing_quote(world: QuotesWorld) -> None:
    deal = world.deals.add()
    product = world.product("SNAP-1", price="100", rate="0.19")
    quote = world.quote(deal, [(product.id, "1")])
    req = quotes_pb2.UpdateProductRequest(
        product=quotes_pb2.Product(
            id=product.id, unit_price=types_pb2.Money(amount="150", currency_code="USD"), tax_rate="0.05"
        ),
        update_mask=FieldMask(paths=["unit_price", "tax_rate"]),
    )
    world.stub.UpdateProduct(req, timeout=5)
    again = _get(world, quote.id)
    assert again == quote and again.total.amount == "119.00"
    newer = world.quote(deal, [(product.id, "1")])
    assert newer.lines[0].unit_price.amount == "150.00" and newer.total.amount == "157.50"


def test_a_line_may_give_its_own_price_and_tax_in_the_quote_currency(world: QuotesWorld) -> None:
    deal = world.deals.add(currency="CLP")
    product = world.product("CL-1", price="1990", rate="0.19", currency="CLP")
    req = world.quote_request(deal, [(product.id, "3")])
    req.quote.lines[0].unit_price.CopyFrom(types_pb2.Money(amount="1500", currency_code="CLP"))
    req.quote.lines[0].tax_rate = "0"
    quote = world.stub.CreateQuote(req, timeout=5).quote
    assert quote.lines[0].unit_price.amount == "1500" and quote.total.amount == "4500"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda r, p: setattr(r.quote.lines[0], "quantity", "-2"), BAD, "lines[0].quantity"),
        (lambda r, p: setattr(r.quote.lines[0], "quantity", "0"), BAD, "lines[0].quantity"),
        (lambda r, p: setattr(r.quote.lines[0], "quantity", "dos"), BAD, "lines[0].quantity"),
        (
            lambda r, p: r.quote.lines[0].unit_price.CopyFrom(types_pb2.Money(amount="-5", currency_code="USD")),
            BAD,
            "lines[0].unit_price.amount",
        ),
        (
            lambda r, p: r.quote.lines[0].unit_price.CopyFrom(types_pb2.Money(amount="5", currency_code="EUR")),
            BAD,
            "lines[0].unit_price.currency_code",
        ),
        (lambda r, p: setattr(r.quote.lines[0], "discount_percent", "120"), BAD, "lines[0].discount_percent"),
        (lambda r, p: setattr(r.quote, "global_discount_percent", "-1"), BAD, "global_discount_percent"),
        (lambda r, p: r.quote.ClearField("lines"), BAD, "lines"),
        (
            lambda r, p: setattr(r.quote.lines[0], "product_id", UNKNOWN),
            NOT_NOW,
            "lines[0].product_id",
        ),
        (lambda r, p: setattr(r.quote.lines[0], "product_id", p), NOT_NOW, "lines[0].product_id"),
        (lambda r, p: setattr(r.quote, "deal_id", UNKNOWN), NOT_NOW, "deal_id"),
        (lambda r, p: setattr(r.quote, "currency_code", "EUR"), BAD, "currency_code"),
        (lambda r, p: setattr(r.quote, "contact_id", UNKNOWN), BAD, "contact_id"),
        (lambda r, p: r.quote.valid_until.CopyFrom(types_pb2.Date(year=2020, month=1, day=1)), BAD, "valid_until"),
        (lambda r, p: r.quote.valid_until.MergeFrom(types_pb2.Date(year=2026, month=2, day=30)), BAD, "valid_until"),
    ],
)  # fmt: skip
def test_bad_quotes_are_refused_with_a_clear_status_and_nothing_is_written(
    world: QuotesWorld, change: object, code: str, field: str
) -> None:
    deal = world.deals.add()
    product = world.product("OK-1")
    inactive = world.product("OFF-1", active=False)
    req = world.quote_request(deal, [(product.id, "2")])
    change(req, inactive.id)  # type: ignore[operator]
    before = world.counts()
    info = _error(lambda: world.stub.CreateQuote(req, timeout=5))
    assert info.code.name == code  # type: ignore[attr-defined]
    named = {v.field for v in info.violations} | {info.metadata.get("field", "")}  # type: ignore[attr-defined]
    assert field in named, info
    assert world.counts() == before
    # The number was not used up: the next quote takes the first one.
    assert world.quote(deal, [(product.id, "1")]).number.endswith("-0001")


def test_an_inactive_product_is_named_in_the_message(world: QuotesWorld) -> None:
    deal = world.deals.add()
    off = world.product("GONE-9", active=False)
    info = _error(lambda: world.stub.CreateQuote(world.quote_request(deal, [(off.id, "1")]), timeout=5))
    assert info.reason == "product_inactive" and "GONE-9" in info.message  # type: ignore[attr-defined]


def test_an_unreachable_deals_service_is_unavailable_and_writes_nothing(world: QuotesWorld) -> None:
    deal = world.deals.add()
    product = world.product("DOWN-1")
    before = world.counts()
    world.deals.down = True
    info = _error(lambda: world.stub.CreateQuote(world.quote_request(deal, [(product.id, "1")]), timeout=5))
    assert info.code == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert world.counts() == before


def test_a_retried_create_with_the_same_request_id_creates_one_quote(world: QuotesWorld) -> None:
    deal = world.deals.add()
    req = world.quote_request(deal, [(world.product("RET-1").id, "1")])
    req.request_id = "req-q-1"
    a = world.stub.CreateQuote(req, timeout=5).quote
    world.deals.down = True  # the retry is answered from the stored answer, without asking deals
    b = world.stub.CreateQuote(req, timeout=5).quote
    assert a == b and world.counts()["quotes"] == 1


def _update(world: QuotesWorld, quote: quotes_pb2.Quote, mask: list[str], expected: int = 0) -> quotes_pb2.Quote:
    req = quotes_pb2.UpdateQuoteRequest(quote=quote, update_mask=FieldMask(paths=mask), expected_version=expected)
    return world.stub.UpdateQuote(req, timeout=5).quote


def test_a_draft_is_edited_and_its_totals_follow(world: QuotesWorld, nats_server: NatsServer) -> None:
    deal = world.deals.add()
    a, b = world.product("ED-1", price="100"), world.product("ED-2", price="20", rate="0")
    quote = world.quote(deal, [(a.id, "1")])
    changed = quotes_pb2.Quote(id=quote.id, terms="Entrega en 5 días", global_discount_percent="50")
    edited = _update(world, changed, ["terms", "global_discount_percent"], expected=1)
    assert edited.version == 2 and edited.terms == "Entrega en 5 días" and edited.total.amount == "59.50"
    assert edited.lines[0].id == quote.lines[0].id  # the lines kept, repriced

    lines = quotes_pb2.Quote(id=quote.id, contact_id=deal.contact_ids[1])
    lines.lines.add(product_id=b.id, quantity="4")
    lines.lines.extend([edited.lines[0]])
    relined = _update(world, lines, ["lines", "contact_id"])
    assert [ln.sku for ln in relined.lines] == ["ED-2", "ED-1"] and relined.contact_id == deal.contact_ids[1]
    assert relined.lines[1].unit_price.amount == "100.00"  # the snapshot given back is kept
    assert relined.total.amount == "99.50"  # (80 + 100) * 50 % + 19 % of 50
    same = _update(world, relined, ["terms", "lines"])
    assert same == relined  # nothing changed: nothing stored
    event = wait_for_event(
        nats_server.url, events_pb2.QuoteUpdated, lambda e: e.quote.id == quote.id and e.quote.version == 3
    )
    assert sorted(event.changed_fields) == ["contact_id", "lines"]

    stale = _error(lambda: _update(world, changed, ["terms"], expected=1))
    assert stale.code == grpc.StatusCode.ABORTED  # type: ignore[attr-defined]
    for mask in (["number"], ["status"], ["total"], ["currency_code"]):
        info = _error(lambda mask=mask: _update(world, quotes_pb2.Quote(id=quote.id), mask))
        assert info.code == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _get(world, quote.id) == relined


def test_only_a_draft_is_editable_and_a_sent_quote_is_frozen(world: QuotesWorld) -> None:
    quote = world.quote()
    sent = world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id, expected_version=1), timeout=5).quote
    assert sent.status == quotes_pb2.QUOTE_STATUS_SENT and sent.send_time.seconds > 0 and sent.version == 2
    before = world.counts()
    info = _error(lambda: _update(world, quotes_pb2.Quote(id=quote.id, terms="otra"), ["terms"]))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "quote_not_editable"  # type: ignore[attr-defined]
    assert "sent" in info.message  # type: ignore[attr-defined]
    info = _error(lambda: world.stub.DeleteQuote(quotes_pb2.DeleteQuoteRequest(id=quote.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    info = _error(lambda: world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert world.counts() == before and _get(world, quote.id) == sent


def test_accept_carries_the_whole_quote_for_the_deals_service(world: QuotesWorld, nats_server: NatsServer) -> None:
    deal = world.deals.add(currency="COP")
    quote = world.quote(deal, [(world.product("ACC-1", price="1234.5", currency="COP").id, "3")])
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    accepted = world.stub.AcceptQuote(quotes_pb2.AcceptQuoteRequest(quote_id=quote.id), timeout=5).quote
    assert accepted.status == quotes_pb2.QUOTE_STATUS_ACCEPTED and accepted.accept_time.seconds > 0
    event = wait_for_event(nats_server.url, events_pb2.QuoteAccepted, lambda e: e.quote.id == quote.id)
    assert event.quote == accepted
    assert (event.quote.deal_id, event.quote.owner_id, event.quote.total.currency_code) == (deal.id, OWNER, "COP")
    assert event.quote.total.amount == "4408"  # round(3703.5) = 3704, + 704 of tax: whole pesos
    info = _error(lambda: world.stub.RejectQuote(quotes_pb2.RejectQuoteRequest(quote_id=quote.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]


def test_reject_keeps_the_reason(world: QuotesWorld) -> None:
    quote = world.quote()
    info = _error(lambda: world.stub.AcceptQuote(quotes_pb2.AcceptQuoteRequest(quote_id=quote.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "quote_not_sent"  # type: ignore[attr-defined]
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    req = quotes_pb2.RejectQuoteRequest(quote_id=quote.id, reason="Precio muy alto")
    rejected = world.stub.RejectQuote(req, timeout=5).quote
    assert rejected.status == quotes_pb2.QUOTE_STATUS_REJECTED and rejected.rejection_reason == "Precio muy alto"


def test_a_sent_quote_expires_on_read_and_cannot_be_accepted(world: QuotesWorld, nats_server: NatsServer) -> None:
    deal = world.deals.add()
    valid_until = world.today() + timedelta(days=3)
    quote = world.quote(deal, valid_until=_date(valid_until))
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    # The last minute of its last day in Bogotá (UTC-5): still sent.
    world.clock.now = world.clock.now.replace(hour=4, minute=59) + timedelta(days=4)
    assert _get(world, quote.id).status == quotes_pb2.QUOTE_STATUS_SENT
    world.clock.advance(minutes=1)
    expired = _get(world, quote.id)
    assert expired.status == quotes_pb2.QUOTE_STATUS_EXPIRED and expired.expire_time.seconds > 0
    assert expired.expire_time.ToDatetime().isoformat() == f"{valid_until + timedelta(days=1)}T05:00:00"
    listed = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(status=quotes_pb2.QUOTE_STATUS_EXPIRED), timeout=5)
    assert [q.id for q in listed.quotes] == [quote.id]
    sent = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(status=quotes_pb2.QUOTE_STATUS_SENT), timeout=5)
    assert list(sent.quotes) == []

    before = world.counts()
    info = _error(lambda: world.stub.AcceptQuote(quotes_pb2.AcceptQuoteRequest(quote_id=quote.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION and info.reason == "quote_expired"  # type: ignore[attr-defined]
    assert "expired" in info.message  # type: ignore[attr-defined]
    assert world.counts() == before

    # The sweep stores it and publishes quote_expired once; a second run finds nothing.
    assert world.runtime.db is not None
    assert expire_due_quotes(world.runtime.db, world.quoting()) == 1
    assert expire_due_quotes(world.runtime.db, world.quoting()) == 0
    stored = _get(world, quote.id)
    assert stored.status == quotes_pb2.QUOTE_STATUS_EXPIRED and stored.version == 3
    event = wait_for_event(nats_server.url, events_pb2.QuoteExpired, lambda e: e.quote.id == quote.id)
    assert event.quote == stored and event.quote.total == quote.total


def test_a_draft_past_its_validity_is_not_sent(world: QuotesWorld) -> None:
    quote = world.quote(valid_until=_date(world.today()))
    world.clock.advance(days=2)
    info = _error(lambda: world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5))
    assert info.reason == "quote_validity_passed" and info.metadata["field"] == "valid_until"  # type: ignore[attr-defined]
    later = _date(world.today() + timedelta(days=10))
    _update(world, quotes_pb2.Quote(id=quote.id, valid_until=later), ["valid_until"])
    sent = world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5).quote
    assert sent.status == quotes_pb2.QUOTE_STATUS_SENT


def test_revise_supersedes_a_sent_quote_with_revision_n_plus_one(world: QuotesWorld, nats_server: NatsServer) -> None:
    deal = world.deals.add()
    product = world.product("REV-1", price="10")
    original = world.quote(deal, [(product.id, "5")])
    info = _error(lambda: world.stub.ReviseQuote(quotes_pb2.ReviseQuoteRequest(quote_id=original.id), timeout=5))
    assert info.reason == "quote_not_revisable"  # type: ignore[attr-defined]
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=original.id), timeout=5)
    # The catalogue price changes; the revision keeps the quote's snapshot.
    req = quotes_pb2.UpdateProductRequest(
        product=quotes_pb2.Product(id=product.id, unit_price=types_pb2.Money(amount="99", currency_code="USD")),
        update_mask=FieldMask(paths=["unit_price"]),
    )
    world.stub.UpdateProduct(req, timeout=5)
    res = world.stub.ReviseQuote(quotes_pb2.ReviseQuoteRequest(quote_id=original.id, request_id="rev-1"), timeout=5)
    r1, old = res.quote, res.superseded_quote
    assert r1.number == f"{original.number}-R1" and r1.revision == 1 and r1.root_number == original.number
    assert r1.status == quotes_pb2.QUOTE_STATUS_DRAFT and r1.revises_quote_id == original.id
    assert r1.total == original.total and r1.lines[0].unit_price.amount == "10.00"
    assert old.status == quotes_pb2.QUOTE_STATUS_SUPERSEDED and old.superseded_by_quote_id == r1.id
    again = world.stub.ReviseQuote(quotes_pb2.ReviseQuoteRequest(quote_id=original.id, request_id="rev-1"), timeout=5)
    assert again == res  # a retry answers as the first call did
    info = _error(lambda: world.stub.ReviseQuote(quotes_pb2.ReviseQuoteRequest(quote_id=original.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]

    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=r1.id), timeout=5)
    world.stub.RejectQuote(quotes_pb2.RejectQuoteRequest(quote_id=r1.id, reason="Muy caro"), timeout=5)
    r2 = world.stub.ReviseQuote(quotes_pb2.ReviseQuoteRequest(quote_id=r1.id), timeout=5).quote
    assert r2.number == f"{original.number}-R2" and r2.revision == 2
    info = _error(lambda: world.stub.DeleteQuote(quotes_pb2.DeleteQuoteRequest(id=r2.id), timeout=5))
    assert info.reason == "quote_is_revision"  # type: ignore[attr-defined]

    listed = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(root_number=original.number), timeout=5).quotes
    assert [q.number for q in listed] == [r2.number]  # superseded ones only when asked for
    every = world.stub.ListQuotes(
        quotes_pb2.ListQuotesRequest(root_number=original.number, include_superseded=True), timeout=5
    ).quotes
    assert [q.revision for q in every] == [0, 1, 2]
    event = wait_for_event(nats_server.url, events_pb2.QuoteSuperseded, lambda e: e.quote.id == original.id)
    assert event.quote.superseded_by_quote_id == r1.id
    created = wait_for_event(nats_server.url, events_pb2.QuoteCreated, lambda e: e.quote.id == r2.id)
    assert created.quote.revises_quote_id == r1.id
    # A new original still takes the next number of the year.
    assert world.quote(deal, [(product.id, "1")]).number == original.number[:-4] + "0002"


def test_lists_are_filtered_and_paged(world: QuotesWorld) -> None:
    deal, other = world.deals.add(), world.deals.add(owner="0192d6e0-0000-7000-8000-0000000000b2")
    product = world.product("LST-1", name="Cámara térmica")
    mine = [world.quote(deal, [(product.id, str(i + 1))]) for i in range(3)]
    theirs = world.quote(other, [(product.id, "1")], terms="Garantía extendida")
    page = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(page_size=2), timeout=5)
    rest = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(page_size=2, page_token=page.next_page_token), timeout=5)
    assert [q.id for q in [*page.quotes, *rest.quotes]] == [*[q.id for q in mine], theirs.id]
    by_owner = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(owner_ids=[OWNER]), timeout=5).quotes
    assert [q.id for q in by_owner] == [q.id for q in mine]
    by_deal = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(deal_id=other.id), timeout=5).quotes
    assert [q.id for q in by_deal] == [theirs.id]
    found = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(query="garantía"), timeout=5).quotes
    assert [q.id for q in found] == [theirs.id]
    found = world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(query=mine[1].number), timeout=5).quotes
    assert [q.id for q in found] == [mine[1].id]
    info = _error(lambda: world.stub.ListQuotes(quotes_pb2.ListQuotesRequest(page_size=-1), timeout=5))
    assert info.violations[0].field == "page_size"  # type: ignore[attr-defined]


def test_a_draft_original_is_deleted_and_its_number_is_not_reused(world: QuotesWorld) -> None:
    deal = world.deals.add()
    product = world.product("DEL-1")
    first = world.quote(deal, [(product.id, "1")])
    world.stub.DeleteQuote(quotes_pb2.DeleteQuoteRequest(id=first.id), timeout=5)
    info = _error(lambda: _get(world, first.id))
    assert info.code == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert world.quote(deal, [(product.id, "1")]).number.endswith("-0002")
