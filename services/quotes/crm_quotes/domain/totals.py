"""A quote's amounts, in exact decimal arithmetic. THE rule (the figures a client signs):

For each line, with q its quantity, p its unit price, d its discount %, g the quote's global
discount %, r its tax rate, and round() = crm_platform.money.round_amount (half-up to the
currency's minor unit: 2 digits for USD, COP, EUR; 0 for CLP):

    subtotal = round(q * p)
    discount = round(subtotal * d/100 + (subtotal - subtotal * d/100) * g/100)
    tax      = round((subtotal - discount) * r)
    total    = subtotal - discount + tax

Each line amount is rounded once, from exact inputs; the quote's figures are sums of the rounded
line amounts (subtotal, discount_total, per tax rate the taxable base and the tax, tax_total,
total), so total = subtotal - discount_total + tax_total holds exactly and every figure on the
PDF adds up. Intermediate products are computed with 60 significant digits (Python's default of
28 would round q * p for large quantities). Pure Python: no I/O."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from crm_platform.money import MAX_AMOUNT_DIGITS, round_amount

HUNDRED = Decimal(100)
# Every amount stored must have at most MAX_AMOUNT_DIGITS integer digits.
AMOUNT_LIMIT = Decimal(10) ** MAX_AMOUNT_DIGITS
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])


@dataclass(frozen=True)
class LineAmounts:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal

    @property
    def taxable(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass(frozen=True)
class TaxTotal:
    rate: Decimal
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    discount_total: Decimal
    # One per distinct rate, ordered by rate.
    tax_totals: tuple[TaxTotal, ...]
    tax_total: Decimal
    total: Decimal


def line_amounts(
    quantity: Decimal,
    unit_price: Decimal,
    discount_percent: Decimal,
    tax_rate: Decimal,
    global_discount_percent: Decimal,
    currency: str,
) -> LineAmounts:
    """One line's amounts by the rule above."""
    with decimal.localcontext(_CONTEXT):
        subtotal = round_amount(quantity * unit_price, currency)
        own = subtotal * discount_percent / HUNDRED
        discount = round_amount(own + (subtotal - own) * global_discount_percent / HUNDRED, currency)
        tax = round_amount((subtotal - discount) * tax_rate, currency)
        return LineAmounts(subtotal, discount, tax, subtotal - discount + tax)


def quote_totals(lines: Sequence[LineAmounts], rates: Sequence[Decimal], currency: str) -> Totals:
    """The quote's figures: sums of its lines' rounded amounts (`rates[i]` is line i's tax rate)."""
    zero = round_amount(Decimal(0), currency)
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    subtotal = discount = tax = zero
    with decimal.localcontext(_CONTEXT):
        for amounts, rate in zip(lines, rates, strict=True):
            subtotal += amounts.subtotal
            discount += amounts.discount
            tax += amounts.tax
            base, rate_tax = by_rate.get(rate.normalize(), (zero, zero))
            by_rate[rate.normalize()] = (base + amounts.taxable, rate_tax + amounts.tax)
        tax_totals = tuple(TaxTotal(rate + 0, base, t) for rate, (base, t) in sorted(by_rate.items()))
        return Totals(subtotal, discount, tax_totals, tax, subtotal - discount + tax)


def too_large(amount: Decimal) -> bool:
    """An amount that storage (NUMERIC(24, 6)) cannot hold."""
    return abs(amount) >= AMOUNT_LIMIT
