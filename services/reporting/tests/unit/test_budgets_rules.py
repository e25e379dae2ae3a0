"""Budget rules without I/O: one owner, a first day of the period, an exact target."""

from __future__ import annotations

from datetime import date

import pytest

from crm_platform.errors import InvalidArgument
from crm_platform.ids import new_id
from crm_reporting.domain.budgets import BudgetDraft, parse_target, validate_owner_and_period
from crm_reporting.domain.periods import Period, PeriodKind


def test_targets_are_exact_minor_units() -> None:
    assert parse_target("25000.5", "usd") == ("USD", 2_500_050)
    assert parse_target("1200000", "CLP") == ("CLP", 1_200_000)
    assert parse_target("0.125", "KWD") == ("KWD", 125)
    assert parse_target("7.000", "CLP") == ("CLP", 7)  # trailing zeros are not extra decimals


@pytest.mark.parametrize(
    ("amount", "currency", "field", "words"),
    [
        ("12.345", "USD", "budget.target.amount", "more decimals than USD allows (2)"),
        ("10.5", "CLP", "budget.target.amount", "more decimals than CLP allows (0)"),
        ("-3", "USD", "budget.target.amount", "must not be negative"),
        ("abc", "USD", "budget.target.amount", "not a decimal"),
        ("10", "XXY", "budget.target.currency_code", "ISO 4217"),
    ],
)
def test_bad_targets(amount: str, currency: str, field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_target(amount, currency)
    assert err.value.violations[0].field == field and words in err.value.violations[0].description


def test_owner_and_period() -> None:
    user = new_id()
    draft = BudgetDraft(user_id=user, period_kind=PeriodKind.QUARTER, period_start=date(2026, 7, 1))
    assert validate_owner_and_period(draft) == Period(PeriodKind.QUARTER, date(2026, 7, 1))
    with pytest.raises(InvalidArgument, match=r"budget\.period_start: 2026-08-01 is not the first day of a quarter"):
        validate_owner_and_period(
            BudgetDraft(user_id=user, period_kind=PeriodKind.QUARTER, period_start=date(2026, 8, 1))
        )
    with pytest.raises(InvalidArgument) as err:
        validate_owner_and_period(BudgetDraft())
    assert {v.field for v in err.value.violations} == {"budget.user_id", "budget.period_kind", "budget.period_start"}
