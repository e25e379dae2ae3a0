"""Budget and indicator periods: a month, a quarter or a year, named by its first day.

A period is a range of calendar days [start, end] in the company's time zone; the instants it
covers are [start 00:00, day after end 00:00) in that zone, converted to UTC for the queries
(`Period.utc_bounds`). Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PeriodStartError(ValueError):
    """The day is not the first day of a period of that kind (the message says which days are)."""


_FIRST_DAYS = {
    PeriodKind.MONTH: "the 1st of a month",
    PeriodKind.QUARTER: "the 1st of January, April, July or October",
    PeriodKind.YEAR: "the 1st of January",
}


def _months(kind: PeriodKind) -> int:
    return {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    start: date

    @classmethod
    def of(cls, kind: PeriodKind, start: date) -> Period:
        """The period of `kind` starting on `start`; PeriodStartError if `start` is not a first day."""
        if start.day != 1 or (start.month - 1) % _months(kind) != 0:
            raise PeriodStartError(
                f"{start.isoformat()} is not the first day of a {kind.value}: use {_FIRST_DAYS[kind]}"
            )
        return cls(kind, start)

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        months = _months(kind)
        month = (day.month - 1) // months * months + 1
        return cls(kind, date(day.year, month, 1))

    @property
    def end(self) -> date:
        """The last day (inclusive)."""
        return self.next_start - timedelta(days=1)

    @property
    def next_start(self) -> date:
        return _add_months(self.start, _months(self.kind))

    def contains(self, day: date) -> bool:
        return self.start <= day < self.next_start

    def utc_bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[from, to) in UTC: midnight of the first day to midnight after the last, in `zone`."""
        lower = datetime.combine(self.start, time(0), tzinfo=zone).astimezone(UTC)
        upper = datetime.combine(self.next_start, time(0), tzinfo=zone).astimezone(UTC)
        return lower, upper
