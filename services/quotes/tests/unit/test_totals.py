"""The amounts of lines and quotes by the documented rule (domain.totals), without I/O: known
answers for discounts, several tax rates, half-up rounding at the currency's minor unit (0.005,
0.025), large quantities, zero-decimal currencies (CLP; COP, which Babel's CLDR data writes without
cents) and a three-decimal one (KWD); and a property (hypothesis) that for any lines
total = subtotal - discounts + taxes, to the last minor unit, with every figure rounded."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_platform.money import minor_unit_exponent
from crm_quotes.domain.products import Product, ProductKind
from crm_quotes.domain.quotes import LineDraft, Quote, priced_lines, with_totals
from crm_quotes.domain.totals import line_amounts

# quantity, unit price, line discount %, tax rate, global discount %, currency →
# subtotal, discount, tax, total
LINES = [
    ("3", "100.00", "0", "0.19", "0", "USD", "300.00", "0.00", "57.00", "357.00"),
    ("2", "49.99", "10", "0.19", "0", "USD", "99.98", "10.00", "17.10", "107.08"),
    ("1", "200", "10", "0.16", "5", "USD", "200.00", "29.00", "27.36", "198.36"),
    # Half-up at the minor unit: 0.005 → 0.01 and 0.025 → 0.03 (half-even would give 0.02).
    ("1", "0.005", "0", "0", "0", "USD", "0.01", "0.00", "0.00", "0.01"),
    ("1", "0.025", "0", "0", "0", "EUR", "0.03", "0.00", "0.00", "0.03"),
    ("1", "0.50", "0", "0.05", "0", "USD", "0.50", "0.00", "0.03", "0.53"),
    ("0.5", "0.01", "0", "0", "0", "USD", "0.01", "0.00", "0.00", "0.01"),
    # Large quantities: 30 significant digits in q * p, more than Python's default context holds.
    (
        "123456789.123456",
        "987654321.987654",
        "0",
        "0.19",
        "0",
        "USD",
        "121932631356499712.46",
        "0.00",
        "23167199957734945.37",
        "145099831314234657.83",
    ),
    ("1000000", "0.333333", "0", "0.19", "0", "USD", "333333.00", "0.00", "63333.27", "396666.27"),
    # Zero-decimal currencies.
    ("3", "1990", "0", "0.19", "0", "CLP", "5970", "0", "1134", "7104"),
    ("3", "1990", "12.5", "0.19", "0", "CLP", "5970", "746", "993", "6217"),
    ("2.5", "10001", "0", "0.19", "0", "COP", "25003", "0", "4751", "29754"),
    ("1", "999.5", "0", "0", "0", "CLP", "1000", "0", "0", "1000"),
    # Three decimals: 1.2345 KWD → 1.235.
    ("1", "1.2345", "0", "0", "0", "KWD", "1.235", "0.000", "0.000", "1.235"),
    # 100 % discount: nothing to pay, nothing taxed.
    ("4", "25", "100", "0.19", "0", "USD", "100.00", "100.00", "0.00", "0.00"),
]


@pytest.mark.parametrize(("q", "p", "d", "r", "g", "cur", "subtotal", "discount", "tax", "total"), LINES)
def test_line_amounts_have_known_answers(
    q: str, p: str, d: str, r: str, g: str, cur: str, subtotal: str, discount: str, tax: str, total: str
) -> None:
    got = line_amounts(D(q), D(p), D(d), D(r), D(g), cur)
    assert (str(got.subtotal), str(got.discount), str(got.tax), str(got.total)) == (subtotal, discount, tax, total)


def test_the_currencies_minor_units_come_from_cldr() -> None:
    # What the rows above rely on (crm_platform.money.minor_unit_exponent, Babel's CLDR data).
    assert [minor_unit_exponent(c) for c in ("USD", "EUR", "CLP", "COP", "KWD")] == [2, 2, 0, 0, 3]


def _product(pid: str, price: str, rate: str, currency: str = "USD") -> Product:
    return Product(
        id=pid, sku=pid.upper(), name=f"Producto {pid}", kind=ProductKind.PRODUCT,
        unit_price=D(price), currency=currency, tax_rate=D(rate),
    )  # fmt: skip


def _ids() -> object:
    counter = iter(range(10_000))
    return lambda: f"line-{next(counter)}"


def _quote(drafts: list[LineDraft], products: dict[str, Product], global_discount: str, currency: str) -> Quote:
    lines = priced_lines(drafts, products, currency, D(global_discount), _ids())
    return with_totals(Quote(id="q", deal_id="d", owner_id="o", currency=currency, lines=lines,
                             global_discount_percent=D(global_discount)))  # fmt: skip


PRODUCTS = {"a": _product("a", "100", "0.19"), "b": _product("b", "50", "0.05"), "c": _product("c", "10", "0")}
THREE_RATES = [
    LineDraft("a", D(2)),
    LineDraft("b", D(1), discount_percent=D(10)),
    LineDraft("c", D(3)),
]


@pytest.mark.parametrize(
    ("global_discount", "subtotal", "discount", "taxes", "tax_total", "total"),
    [
        ("0", "280.00", "5.00", [("0", "30.00", "0.00"), ("0.05", "45.00", "2.25"), ("0.19", "200.00", "38.00")],
         "40.25", "315.25"),
        ("10", "280.00", "32.50", [("0", "27.00", "0.00"), ("0.05", "40.50", "2.03"), ("0.19", "180.00", "34.20")],
         "36.23", "283.73"),
    ],
)  # fmt: skip
def test_a_quote_sums_its_rounded_lines_and_breaks_tax_down_by_rate(
    global_discount: str, subtotal: str, discount: str, taxes: list[tuple[str, str, str]], tax_total: str, total: str
) -> None:
    t = _quote(THREE_RATES, PRODUCTS, global_discount, "USD").totals
    assert t is not None
    assert (str(t.subtotal), str(t.discount_total), str(t.tax_total), str(t.total)) == (
        subtotal, discount, tax_total, total,
    )  # fmt: skip
    assert [(format(x.rate, "f"), str(x.taxable), str(x.tax)) for x in t.tax_totals] == taxes


def test_the_quote_total_is_the_sum_of_rounded_lines_not_a_rounded_sum() -> None:
    # Three lines of 0.005 USD: each rounds to 0.01, so the quote is 0.03 (not round(0.015) = 0.02).
    products = {"x": _product("x", "0.005", "0")}
    t = _quote([LineDraft("x", D(1))] * 3, products, "0", "USD").totals
    assert t is not None and str(t.total) == "0.03"


_quantity = st.decimals(min_value=D("0.000001"), max_value=D(10**6), places=6, allow_nan=False, allow_infinity=False)
_price = st.decimals(min_value=D(0), max_value=D(10**7), places=6, allow_nan=False, allow_infinity=False)
_percent = st.decimals(min_value=D(0), max_value=D(100), places=4, allow_nan=False, allow_infinity=False)
_rate = st.sampled_from([D("0"), D("0.05"), D("0.16"), D("0.19"), D("0.21"), D("0.083")])
_line = st.tuples(_quantity, _price, _percent, _rate)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, min_size=1, max_size=25),
    global_discount=_percent,
    currency=st.sampled_from(["USD", "CLP", "COP", "KWD", "EUR"]),
)
def test_total_is_subtotal_minus_discounts_plus_taxes_for_any_lines(
    lines: list[tuple[D, D, D, D]], global_discount: D, currency: str
) -> None:
    products = {f"p{i}": _product(f"p{i}", str(p), str(r), currency) for i, (_, p, _, r) in enumerate(lines)}
    drafts = [LineDraft(f"p{i}", q, discount_percent=d) for i, (q, _, d, _) in enumerate(lines)]
    quote = _quote(drafts, products, str(global_discount), currency)
    t = quote.totals
    assert t is not None
    assert t.total == t.subtotal - t.discount_total + t.tax_total
    assert t.tax_total == sum((x.tax for x in t.tax_totals), D(0))
    assert t.subtotal - t.discount_total == sum((x.taxable for x in t.tax_totals), D(0))
    assert t.total == sum((ln.amounts.total for ln in quote.lines), D(0))
    exponent = D(1).scaleb(-minor_unit_exponent(currency))
    for ln in quote.lines:
        a = ln.amounts
        for figure in (a.subtotal, a.discount, a.tax, a.total):
            assert figure == figure.quantize(exponent)  # rounded to the minor unit
        assert D(0) <= a.discount <= a.subtotal and a.tax >= 0
