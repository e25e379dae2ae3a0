"""Rules shared by products and quotes: text limits, exact decimals (quantities, percentages, tax
rates, prices) read from their API strings, owner filters. Pure Python: no I/O."""

from __future__ import annotations

from decimal import Decimal

from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.money import parse_amount

NAME_MAX = 200
TEXT_MAX = 2000
ID_MAX = 36
# Decimal places a stored quantity, price, percentage or rate may have (NUMERIC(24, 6) in storage).
MAX_DECIMALS = 6
HUNDRED = Decimal(100)


def check_length(value: str, field_name: str, limit: int, problems: list[FieldViolation]) -> None:
    if len(value) > limit:
        problems.append(FieldViolation(field_name, f"must be at most {limit} characters"))


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def parse_decimal(
    text: str,
    field_name: str,
    problems: list[FieldViolation],
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    minimum_inclusive: bool = True,
) -> Decimal | None:
    """An exact decimal from its string (never a float), within bounds and with at most
    MAX_DECIMALS places; None (and a problem naming the field) when it is not."""
    try:
        value = parse_amount(text, field_name)
    except InvalidArgument as exc:
        problems += exc.violations
        return None
    if decimal_places(value) > MAX_DECIMALS:
        problems.append(FieldViolation(field_name, f"must have at most {MAX_DECIMALS} decimal places"))
        return None
    if minimum is not None and (value < minimum or (value == minimum and not minimum_inclusive)):
        relation = "at least" if minimum_inclusive else "greater than"
        problems.append(FieldViolation(field_name, f"must be {relation} {minimum}, got {text.strip()}"))
        return None
    if maximum is not None and value > maximum:
        problems.append(FieldViolation(field_name, f"must be at most {maximum}, got {text.strip()}"))
        return None
    return value + 0  # -0 → 0


def parse_tax_rate(text: str, field_name: str, problems: list[FieldViolation]) -> Decimal | None:
    """A tax rate as a decimal fraction from 0 (exempt) to 1: "0.19" is 19 %."""
    value = parse_decimal(text, field_name, problems)
    if value is not None and not Decimal(0) <= value <= 1:
        problems.append(
            FieldViolation(field_name, f"must be a fraction from 0 to 1 (0.19 is 19 %), got {text.strip()}")
        )
        return None
    return None if value is None else value.normalize() + 0


def parse_percent(text: str, field_name: str, problems: list[FieldViolation]) -> Decimal | None:
    """A percentage from 0 to 100 ("12.5" is 12.5 %); blank is 0."""
    if not text.strip():
        return Decimal(0)
    value = parse_decimal(text, field_name, problems, minimum=Decimal(0), maximum=HUNDRED)
    return None if value is None else value.normalize() + 0


def plain(value: Decimal) -> str:
    """A decimal as the API writes it: no exponent, no trailing zeros after the point ("0.19", "3")."""
    text = format(value.normalize(), "f")
    return text


def search_text(*parts: str) -> str:
    """What a list's text query matches: the parts case-folded, one per line."""
    return "\n".join(p.casefold() for p in parts if p)
