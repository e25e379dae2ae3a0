"""The campaign's figures that are arithmetic: cost per lead and ROI, exact (Decimal). Cost per
lead is rounded half-up to the currency's minor unit; ROI is (won - cost) / cost as a decimal
fraction ("1.5" is 150 %) rounded half-up to 4 places, without trailing zeros."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from crm_platform.money import round_amount

ROI_PLACES = Decimal("0.0001")


def cost_per_lead(cost: Decimal, leads: int, currency: str) -> Decimal | None:
    """None when there are no leads."""
    if leads <= 0:
        return None
    return round_amount(cost / leads, currency)


def roi(won: Decimal, cost: Decimal) -> str:
    """ "" when the cost is 0 (no return on nothing spent)."""
    if cost == 0:
        return ""
    value = ((won - cost) / cost).quantize(ROI_PLACES, rounding=ROUND_HALF_UP)
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
