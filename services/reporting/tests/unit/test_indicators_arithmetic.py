"""Periods and the indicators' arithmetic: exact, rounded half-up once, empty on a zero denominator."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm_reporting.domain.figures import average_days, divide_minor, from_minor, ratio, to_minor, weighted_minor
from crm_reporting.domain.periods import Period, PeriodKind, PeriodStartError


@pytest.mark.parametrize(
    ("kind", "start", "end", "next_start"),
    [
        (PeriodKind.MONTH, date(2026, 2, 1), date(2026, 2, 28), date(2026, 3, 1)),
        (PeriodKind.MONTH, date(2028, 2, 1), date(2028, 2, 29), date(2028, 3, 1)),
        (PeriodKind.MONTH, date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1)),
        (PeriodKind.QUARTER, date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 1)),
        (PeriodKind.QUARTER, date(2026, 4, 1), date(2026, 6, 30), date(2026, 7, 1)),
        (PeriodKind.YEAR, date(2026, 1, 1), date(2026, 12, 31), date(2027, 1, 1)),
    ],
)
def test_period_bounds(kind: PeriodKind, start: date, end: date, next_start: date) -> None:
    period = Period.of(kind, start)
    assert (period.end, period.next_start) == (end, next_start)
    assert period.contains(end) and not period.contains(next_start)


@pytest.mark.parametrize(
    ("kind", "start"),
    [
        (PeriodKind.MONTH, date(2026, 3, 2)),
        (PeriodKind.QUARTER, date(2026, 2, 1)),
        (PeriodKind.QUARTER, date(2026, 4, 15)),
        (PeriodKind.YEAR, date(2026, 7, 1)),
    ],
)
def test_a_period_starts_on_its_first_day(kind: PeriodKind, start: date) -> None:
    with pytest.raises(PeriodStartError, match=f"not the first day of a {kind.value}"):
        Period.of(kind, start)


def test_containing_period() -> None:
    assert Period.containing(PeriodKind.QUARTER, date(2026, 8, 17)) == Period(PeriodKind.QUARTER, date(2026, 7, 1))
    assert Period.containing(PeriodKind.YEAR, date(2026, 8, 17)).start == date(2026, 1, 1)


def test_period_instants_are_midnights_in_the_company_zone() -> None:
    lo, hi = Period.of(PeriodKind.QUARTER, date(2026, 4, 1)).utc_bounds(ZoneInfo("America/Bogota"))
    # Bogotá is UTC-5 all year.
    assert lo == datetime(2026, 4, 1, 5, 0, tzinfo=UTC)
    assert hi == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
    # Madrid changes offset inside the quarter (CET in January, CEST in April).
    lo, hi = Period.of(PeriodKind.QUARTER, date(2026, 1, 1)).utc_bounds(ZoneInfo("Europe/Madrid"))
    assert (lo, hi) == (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC))


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [
        (2, 3, "0.6667"),  # half-up at the 4th decimal
        (1, 3, "0.3333"),
        (1, 8, "0.1250"),
        (1, 16, "0.0625"),
        (1, 32, "0.0313"),  # 0.03125 → half-up
        (5, 4, "1.2500"),  # over budget
        (0, 7, "0.0000"),
        (3, 0, ""),  # no denominator: empty, not 0 and not an error
        (-150, 100, "-1.5000"),  # a negative ROI
    ],
)
def test_ratio(num: int, den: int, expected: str) -> None:
    assert ratio(num, den) == expected


def test_attainment_of_amounts_in_minor_units() -> None:
    # 12,345.67 USD won of a 20,000.00 USD target.
    assert ratio(1_234_567, 2_000_000) == "0.6173"


def test_average_days() -> None:
    assert average_days(0, 0) == ""
    assert average_days(3 * 86_400, 2) == "1.50"
    assert average_days(86_400 + 43_200 + 432, 1) == "1.51"  # 1.505 days → half-up
    assert average_days(86_399, 3) == "0.33"


def test_division_of_money_rounds_half_up_to_the_minor_unit() -> None:
    assert divide_minor(10, 4) == 3  # 2.5 → 3
    assert divide_minor(9, 4) == 2  # 2.25 → 2
    assert weighted_minor(1_500_000 * 35 + 999 * 50) == 525_500  # 525,499.5 → 525,500
    with pytest.raises(ValueError):
        divide_minor(1, 0)


def test_minor_units_are_exact() -> None:
    assert to_minor(Decimal("12.34"), 2) == 1234
    assert to_minor(Decimal("12.340"), 2) == 1234
    assert to_minor(Decimal("7"), 0) == 7
    with pytest.raises(ValueError):
        to_minor(Decimal("12.345"), 2)
    assert str(from_minor(1234, 2)) == "12.34"
    assert str(from_minor(5, 3)) == "0.005"
    assert str(from_minor(1500000, 0)) == "1500000"
