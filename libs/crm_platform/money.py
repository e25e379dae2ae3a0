"""Exact money: a Decimal amount with its ISO 4217 currency.

Rounding rule (the one documented place): amounts are kept at full precision while they are
computed, and rounded half-up to the currency's minor unit (2 for USD/EUR, 0 for CLP, per ISO 4217
as Babel's CLDR data knows it) by `Money.rounded()` / `round_amount()` exactly once, where a value
is stored or shown as a final figure (a quote line's total, a deal's amount).

Currencies accepted (the one rule, applied by the gateway's money schema and by every service):
the upper-case ISO 4217 code of a currency that is legal tender in some territory today, as the
CLDR data shipped with Babel knows it. That leaves out historical codes (DEM, VEF, HRK), fund and
accounting units (USN, CLF, COU), and the X-codes that are not money a business invoices in
(XAU and the other metals, XDR, XTS for testing, XXX for "no currency"); the X-codes of real
currencies (XAF, XOF, XCD, XPF) are in. Input is case-insensitive: "cop" is read as COP
(`parse_currency`), and codes are stored and answered in upper case."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

from crm_platform.errors import InvalidArgument

MAX_AMOUNT_DIGITS = 18  # integer digits an amount may have (fits NUMERIC(24, 6) in storage)


@lru_cache(maxsize=1)
def invoice_currencies() -> frozenset[str]:
    """Every currency that is legal tender somewhere today (read once per process)."""
    today = datetime.date.today()
    found: set[str] = set()
    for territory in get_global("territory_currencies"):
        found.update(get_territory_currencies(territory, today, tender=True, non_tender=False))
    return frozenset(found)


def is_known_currency(code: str) -> bool:
    """True for the upper-case code of a currency a business can invoice in (see above)."""
    return isinstance(code, str) and code in invoice_currencies()


@lru_cache(maxsize=512)
def minor_unit_exponent(currency_code: str) -> int:
    """Digits after the decimal point of the currency's minor unit (COP 2, CLP 0, KWD 3)."""
    return get_currency_precision(currency_code)


def currency_problem(code: str) -> str | None:
    """Why `code` (in any case) is not an accepted currency, in words for the field's error; None
    when it is one."""
    if is_known_currency((code or "").strip().upper()):
        return None
    return f"'{code}' is not the ISO 4217 code of a currency in use (such as COP, USD, EUR)"


def parse_currency(code: str, field: str = "currency_code") -> str:
    """The currency's code in upper case; InvalidArgument naming `field` when it is not one."""
    problem = currency_problem(code)
    if problem is not None:
        raise InvalidArgument.field(field, problem)
    return code.strip().upper()


def parse_amount(text: str | int | Decimal, field: str = "amount") -> Decimal:
    """Parses an exact decimal amount; floats are refused (they are not exact)."""
    if isinstance(text, float | bool):
        raise InvalidArgument.field(field, "must be a decimal string, not a float")
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise InvalidArgument.field(field, f"'{text}' is not a decimal number") from None
    if not value.is_finite():
        raise InvalidArgument.field(field, "must be a finite number")
    if value.adjusted() >= MAX_AMOUNT_DIGITS:
        raise InvalidArgument.field(field, f"must have at most {MAX_AMOUNT_DIGITS} integer digits")
    return value


def round_amount(amount: Decimal, currency_code: str) -> Decimal:
    """Half-up to the currency's minor unit: 0.005 USD → 0.01, 2.5 CLP → 3."""
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency_code))
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(parse_amount(amount), parse_currency(currency))

    def rounded(self) -> Money:
        return Money(round_amount(self.amount, self.currency), self.currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float):
            raise TypeError("multiply money by a Decimal or int, never a float")
        return Money(self.amount * factor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), parse_currency(currency))

    def to_proto_fields(self) -> dict[str, str]:
        """Keyword arguments for crm.common.v1.Money (the amount as a plain decimal string)."""
        return {"currency_code": self.currency, "amount": format(self.amount, "f")}
