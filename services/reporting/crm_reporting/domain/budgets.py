"""Budgets (Presupuesto): a money target for one user, or one team, over a month, quarter or year.

The target is exact: it is stored as integer minor units of its currency, and an amount with more
decimals than the currency has (12.345 USD, 10.5 CLP) is refused, never rounded. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.money import minor_unit_exponent, parse_amount, parse_currency
from crm_platform.update_mask import UpdatableFields
from crm_reporting.domain.figures import to_minor
from crm_reporting.domain.periods import Period, PeriodKind, PeriodStartError

UPDATABLE = UpdatableFields(
    fields=("target",),
    immutable=frozenset(
        {"id", "user_id", "team_id", "period_kind", "period_start", "create_time", "update_time", "version"}
    ),
    subfields={"target": ("amount", "currency_code")},
)


@dataclass(frozen=True, slots=True)
class Budget:
    id: str
    # A user's budget: user_id, and team_id the team the user was in when it was set. A team's own
    # budget: team_id only (user_id "").
    user_id: str
    team_id: str
    period: Period
    currency_code: str
    target_minor: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def is_team_budget(self) -> bool:
        return not self.user_id

    @property
    def target(self) -> Decimal:
        exponent = minor_unit_exponent(self.currency_code)
        return Decimal(self.target_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


@dataclass(frozen=True, slots=True)
class BudgetDraft:
    """A budget as a caller wrote it (before validation); fields as the API names them."""

    user_id: str = ""
    team_id: str = ""
    period_kind: PeriodKind | None = None
    period_start: date | None = None
    amount: str = ""
    currency_code: str = ""


def parse_target(amount: str, currency_code: str, prefix: str = "budget.target") -> tuple[str, int]:
    """(currency, target in minor units): an ISO 4217 currency and a non-negative exact amount."""
    currency = parse_currency(currency_code, f"{prefix}.currency_code")
    value = parse_amount(amount, f"{prefix}.amount")
    if value < 0:
        raise InvalidArgument.field(f"{prefix}.amount", "must not be negative")
    exponent = minor_unit_exponent(currency)
    try:
        return currency, to_minor(value, exponent)
    except ValueError:
        raise InvalidArgument.field(
            f"{prefix}.amount", f"{amount} has more decimals than {currency} allows ({exponent})"
        ) from None


def validate_owner_and_period(draft: BudgetDraft) -> Period:
    """Exactly one of user_id and team_id, a period kind, and the first day of such a period."""
    problems: list[FieldViolation] = []
    if bool(draft.user_id) == bool(draft.team_id):
        problems.append(FieldViolation("budget.user_id", "set exactly one of user_id and team_id"))
    for name in ("user_id", "team_id"):
        value = getattr(draft, name)
        if value and not is_valid_id(value):
            problems.append(FieldViolation(f"budget.{name}", f"'{value}' is not a valid id"))
    if draft.period_kind is None:
        problems.append(FieldViolation("budget.period_kind", "is required (month, quarter or year)"))
    if draft.period_start is None:
        problems.append(FieldViolation("budget.period_start", "is required (the first day of the period)"))
    if problems:
        raise InvalidArgument(problems)
    assert draft.period_kind is not None and draft.period_start is not None
    try:
        return Period.of(draft.period_kind, draft.period_start)
    except PeriodStartError as exc:
        raise InvalidArgument.field("budget.period_start", str(exc)) from None
