"""Exact money: a Decimal amount with its ISO 4217 currency.

Rounding rule (the one documented place): amounts are kept at full precision while they are
computed, and rounded half-up to the currency's minor unit (2 for USD/EUR, 0 for CLP, per ISO 4217
as Babel's CLDR data knows it) by `Money.rounded()` / `round_amount()` exactly once, where a value
is stored or shown as a final figure (a quote line's total, a deal's amount)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.core import get_global
from babel.numbers import get_currency_precision

from crm_platform.errors import InvalidArgument

MAX_AMOUNT_DIGITS = 18  # integer digits an amount may have (fits NUMERIC(24, 6) in storage)


@lru_cache(maxsize=512)
def is_known_currency(code: str) -> bool:
    return isinstance(code, str) and len(code) == 3 and code.isupper() and code in get_global("all_currencies")


@lru_cache(maxsize=512)
def minor_unit_exponent(currency_code: str) -> int:
    """Digits after the decimal point of the currency's minor unit (COP 2, CLP 0, KWD 3)."""
    return get_currency_precision(currency_code)


def parse_currency(code: str, field: str = "currency_code") -> str:
    code = (code or "").strip().upper()
    if not is_known_currency(code):
        raise InvalidArgument.field(field, f"'{code}' is not an ISO 4217 currency code")
    return code


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
