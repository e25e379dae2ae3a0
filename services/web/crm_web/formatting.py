"""Money, numbers and dates as the user reads them: in their locale (es-CO by default: `$ 1.234.567`,
`7 dic 2026`) and time zone, with Babel. Used as Jinja filters; the values come from the API as it
sends them (money as {currency_code, amount} with a decimal string, instants as RFC 3339 UTC,
dates as YYYY-MM-DD)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

DEFAULT_LOCALE = "es-CO"
DEFAULT_TIME_ZONE = "America/Bogota"
# The languages the pages are written in; a locale outside them falls back to Spanish text.
LANGUAGES = ("es", "en")
# The currency symbol is kept apart from the figure by a no-break space in every locale, and the
# currency's own decimals are shown (none for COP) unless the amount has more (never rounded).
_MONEY_PATTERN = "¤\u00a0#,##0.00"


@functools.lru_cache(maxsize=64)
def babel_locale(tag: str | None) -> Locale:
    """A BCP 47 tag ("es-CO", "en") as a Babel locale; an unknown or empty tag is es-CO. Kept per
    tag: parsing one costs more than formatting a value, and a list page formats hundreds."""
    try:
        return Locale.parse((tag or DEFAULT_LOCALE).replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE.replace("-", "_"))


def language_of(tag: str | None) -> str:
    lang = babel_locale(tag).language
    return lang if lang in LANGUAGES else "es"


def time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any, locale: str | None = None, currency: str = "") -> str:
    """{currency_code, amount} (the API's Money), or an amount with `currency`; "" when unset."""
    if isinstance(value, dict):
        currency = value.get("currency_code") or currency
        value = value.get("amount")
    amount = _decimal(value)
    if amount is None:
        return ""
    if not currency:
        return number(amount, locale)
    return format_currency(amount, currency, _MONEY_PATTERN, locale=babel_locale(locale), decimal_quantization=False)


def number(value: Any, locale: str | None = None) -> str:
    amount = _decimal(value)
    return "" if amount is None else format_decimal(amount, locale=babel_locale(locale), decimal_quantization=False)


def percent(value: Any, locale: str | None = None) -> str:
    """A fraction (0.25) as a percentage (25 %)."""
    amount = _decimal(value)
    return "" if amount is None else format_percent(amount, locale=babel_locale(locale), decimal_quantization=False)


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def _day_cached(value: Any, locale: str | None, tz: str | None) -> str:
    return _day(value, locale, tz)


def day(value: Any, locale: str | None = None, tz: str | None = None) -> str:
    """A date ("2026-12-07") or the day of an instant in the user's time zone: `7 dic 2026`. Kept
    once formatted, per locale and zone: a list page shows fifty on every load, and profiling the
    clients list (bench/web.py) found the formatting its largest single cost."""
    if isinstance(value, str | date):
        return _day_cached(value, locale, tz)
    return _day(value, locale, tz)


def _day(value: Any, locale: str | None = None, tz: str | None = None) -> str:
    """day() without the memo."""
    if isinstance(value, str) and len(value) == 10:
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, "d MMM y", locale=babel_locale(locale))
    instant = _instant(value)
    if instant is None:
        return ""
    return format_date(instant.astimezone(time_zone(tz)).date(), "d MMM y", locale=babel_locale(locale))


def moment(value: Any, locale: str | None = None, tz: str | None = None) -> str:
    """An instant in the user's time zone: `7 dic 2026, 10:04`."""
    instant = _instant(value)
    if instant is None:
        return ""
    return format_datetime(instant, "d MMM y, HH:mm", tzinfo=time_zone(tz), locale=babel_locale(locale))


def local_input(value: Any, tz: str | None = None) -> str:
    """An instant as the value of an <input type="datetime-local"> in the user's time zone."""
    instant = _instant(value)
    return "" if instant is None else instant.astimezone(time_zone(tz)).strftime("%Y-%m-%dT%H:%M")


def from_local_input(value: str, tz: str | None = None) -> str:
    """A datetime-local input's value, read in the user's time zone, as RFC 3339 UTC ("" if empty/bad)."""
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        return ""
    return local.replace(tzinfo=time_zone(tz)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
