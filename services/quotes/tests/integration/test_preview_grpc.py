"""PreviewQuote over real gRPC with a real database: the quote CreateQuote would make of the same
request — the same lines, amounts and totals, the same errors naming the same fields — while
nothing is stored (no quote, line, number, outbox event or remembered request)."""

from __future__ import annotations

import grpc
import pytest

from crm.quotes.v1 import quotes_pb2
from crm_platform.grpc_client import ErrorInfo, decode_error

from .conftest import OWNER, QuotesWorld

UNKNOWN = "0192d6e0-0000-7000-8000-00000000dead"


def _figures(quote: quotes_pb2.Quote) -> tuple[object, ...]:
    lines = tuple(
        (ln.product_id, ln.sku, ln.quantity, ln.unit_price.amount, ln.discount.amount, ln.tax.amount, ln.total.amount)
        for ln in quote.lines
    )
    taxes = tuple((t.tax_rate, t.taxable_amount.amount, t.tax.amount) for t in quote.tax_totals)
    return (
        lines,
        taxes,
        quote.subtotal.amount,
        quote.discount_total.amount,
        quote.tax_total.amount,
        quote.total.amount,
        quote.currency_code,
        quote.client_id,
        quote.contact_id,
        quote.owner_id,
        quote.valid_until,
    )


def test_a_preview_has_the_figures_of_the_created_quote_and_stores_nothing(world: QuotesWorld) -> None:
    deal = world.deals.add(currency="COP")
    a = world.product("PV-A", price="1250.505", rate="0.19", currency="COP")
    b = world.product("PV-B", price="99.99", rate="0.05", currency="COP")
    c = world.product("PV-C", price="10", rate="0", currency="COP")
    req = world.quote_request(deal, [(a.id, "3"), (b.id, "2.5"), (c.id, "7")])
    req.quote.lines[0].discount_percent = "12.5"
    req.quote.lines[2].tax_rate = "0.08"
    req.quote.global_discount_percent = "5"
    before = world.counts()

    preview = world.stub.PreviewQuote(quotes_pb2.PreviewQuoteRequest(quote=req.quote), timeout=5).quote

    assert world.counts() == before
    assert (preview.id, preview.number, preview.version) == ("", "", 0)
    assert all(ln.id == "" for ln in preview.lines)
    created = world.stub.CreateQuote(req, timeout=5).quote
    assert _figures(preview) == _figures(created)
    # COP has no minor unit here: 3752 - 633 + 593, 250 - 13 + 12, 70 - 4 + 5 (each line rounded half-up).
    assert [ln.total.amount for ln in preview.lines] == ["3712", "249", "71"]
    assert preview.total.amount == created.total.amount == "4032"
    assert preview.owner_id == OWNER


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda q: setattr(q.lines[0], "quantity", "-1"), "lines[0].quantity"),
        (lambda q: setattr(q.lines[1], "discount_percent", "120"), "lines[1].discount_percent"),
        (lambda q: setattr(q.lines[1], "product_id", UNKNOWN), "lines[1].product_id"),
        (lambda q: setattr(q, "currency_code", "EUR"), "currency_code"),
    ],
)
def test_a_bad_preview_fails_as_create_does_naming_the_field(world: QuotesWorld, change: object, field: str) -> None:
    deal = world.deals.add(currency="USD")
    a, b = world.product(price="10"), world.product(price="20")
    req = world.quote_request(deal, [(a.id, "1"), (b.id, "2")])
    change(req.quote)  # type: ignore[operator]
    before = world.counts()
    errors: list[ErrorInfo] = []
    for rpc, message in (
        (world.stub.PreviewQuote, quotes_pb2.PreviewQuoteRequest(quote=req.quote)),
        (world.stub.CreateQuote, req),
    ):
        with pytest.raises(grpc.RpcError) as err:
            rpc(message, timeout=5)
        errors.append(decode_error(err.value))
    preview_error, create_error = errors
    assert preview_error.code == create_error.code
    assert field in str(preview_error.message) + str(preview_error.violations)
    assert preview_error.message == create_error.message
    assert world.counts() == before


def test_a_preview_for_an_unknown_deal_is_refused(world: QuotesWorld) -> None:
    product = world.product()
    req = quotes_pb2.PreviewQuoteRequest(
        quote=quotes_pb2.Quote(deal_id=UNKNOWN, lines=[quotes_pb2.QuoteLine(product_id=product.id, quantity="1")])
    )
    with pytest.raises(grpc.RpcError) as err:
        world.stub.PreviewQuote(req, timeout=5)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "deal_id" in str(err.value.details())
