"""Indicator arithmetic, exact: money in integer minor units, ratios and averages as Decimal
strings rounded half-up once, here.

- Ratios (attainment, win rate, conversion and acceptance rates, ROI) are decimal fractions with
  RATIO_PLACES (4) decimals: "0.6667" is 66.67 %; empty when the denominator is 0.
- The average sales cycle is in days with DAYS_PLACES (2) decimals.
- Money figures computed by division (average deal size, cost per lead, weighted forecast) are
  rounded half-up to the currency's minor unit. Pure: no I/O."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

RATIO_PLACES = 4
DAYS_PLACES = 2
SECONDS_PER_DAY = 86_400


def _quantize(value: Decimal, places: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> str:
    """numerator / denominator with 4 decimals, half-up; "" when the denominator is 0."""
    if not denominator:
        return ""
    return _quantize(Decimal(numerator) / Decimal(denominator), RATIO_PLACES)


def average_days(total_seconds: int, count: int) -> str:
    """The mean of `count` durations totalling `total_seconds`, in days with 2 decimals; "" for none."""
    if not count:
        return ""
    return _quantize(Decimal(total_seconds) / Decimal(count) / SECONDS_PER_DAY, DAYS_PLACES)


def divide_minor(total_minor: int, divisor: int) -> int:
    """total / divisor in minor units, half-up (an average amount, a cost per lead)."""
    if divisor <= 0:
        raise ValueError("divisor must be positive")
    return int((Decimal(total_minor) / divisor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def weighted_minor(amount_times_probability: int) -> int:
    """Σ amount_minor x probability / 100, rounded half-up to the minor unit."""
    return divide_minor(amount_times_probability, 100)


def to_minor(amount: Decimal, exponent: int) -> int:
    """An amount that has at most `exponent` decimals, as integer minor units (exact)."""
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {exponent} decimals")
    return int(scaled)


def from_minor(minor: int, exponent: int) -> Decimal:
    """Integer minor units as an amount with exactly `exponent` decimals ("1234.50")."""
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def round_to_minor(amount: Decimal, exponent: int) -> int:
    """Any amount as minor units, half-up (source amounts are already at the minor unit: no-op)."""
    return int(amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))
