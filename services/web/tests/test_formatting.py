"""Money, numbers and dates as a user reads them (es-CO by default, English beside), in their time zone."""

from __future__ import annotations

from crm_web import formatting as f

NBSP = "\u00a0"


def test_colombian_pesos_have_no_decimals_and_dots_for_thousands() -> None:
    assert f.money({"currency_code": "COP", "amount": "1234567.00"}, "es-CO") == f"${NBSP}1.234.567"


def test_money_keeps_decimals_the_amount_has_and_never_rounds() -> None:
    assert f.money({"currency_code": "COP", "amount": "1234567.5"}, "es-CO") == f"${NBSP}1.234.567,5"
    assert f.money({"currency_code": "USD", "amount": "10"}, "es-CO") == f"US${NBSP}10,00"
    assert f.money({"currency_code": "USD", "amount": "1234.5"}, "en-US") == f"${NBSP}1,234.50"


def test_money_without_a_value_is_empty_and_without_currency_is_a_number() -> None:
    assert f.money(None, "es-CO") == ""
    assert f.money({"currency_code": "COP", "amount": ""}, "es-CO") == ""
    assert f.money("2500000", "es-CO") == "2.500.000"


def test_a_date_reads_day_short_month_year() -> None:
    assert f.day("2026-12-07", "es-CO") == "7 dic 2026"
    assert f.day("2026-12-07", "en-US") == "7 Dec 2026"


def test_an_instant_is_shown_in_the_users_time_zone() -> None:
    # 03:30 UTC on 8 December is still 7 December in Bogotá (UTC-5).
    assert f.day("2026-12-08T03:30:00Z", "es-CO", "America/Bogota") == "7 dic 2026"
    assert f.moment("2026-12-08T03:30:00Z", "es-CO", "America/Bogota") == "7 dic 2026, 22:30"
    assert f.moment("2026-12-08T03:30:00Z", "es-CO", "Europe/Madrid") == "8 dic 2026, 04:30"


def test_unknown_locale_or_zone_falls_back_to_colombia() -> None:
    assert f.day("2026-12-08T03:30:00Z", "xx-??", "Not/AZone") == "7 dic 2026"
    assert f.language_of("en-GB") == "en"
    assert f.language_of("pt-BR") == "es"


def test_datetime_local_inputs_round_trip_through_utc() -> None:
    utc = f.from_local_input("2026-12-07T22:30", "America/Bogota")
    assert utc == "2026-12-08T03:30:00Z"
    assert f.local_input(utc, "America/Bogota") == "2026-12-07T22:30"
    assert f.from_local_input("mañana", "America/Bogota") == ""
