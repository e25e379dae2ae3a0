"""Unit tests (no I/O) for money, pagination, ids, subjects and configuration."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from crm.contacts.v1 import events_pb2
from crm_platform import pagination
from crm_platform.config import SERVICES, ConfigError, platform_settings, service_config
from crm_platform.errors import FieldViolation, InvalidArgument, NotFound
from crm_platform.eventbus import service_of, subject_for
from crm_platform.grpc_server import status_for
from crm_platform.ids import is_valid_id, new_id
from crm_platform.money import (
    Money,
    invoice_currencies,
    is_known_currency,
    parse_amount,
    parse_currency,
    round_amount,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004999", "USD", "0.00"),
        ("-0.005", "EUR", "-0.01"),
        ("2.5", "CLP", "3"),
        ("1234.5", "COP", "1235"),  # CLDR: COP is used without cents
        ("1234.5", "MXN", "1234.50"),
        ("0.0005", "KWD", "0.001"),
        ("999999999999.995", "USD", "1000000000000.00"),
    ],
)
def test_rounding_is_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    assert str(round_amount(Decimal(amount), currency)) == expected


def test_money_refuses_floats_unknown_currencies_and_mixing() -> None:
    with pytest.raises(InvalidArgument, match="float"):
        parse_amount(0.1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="ISO 4217"):
        parse_currency("XYZ")
    with pytest.raises(InvalidArgument, match="decimal"):
        parse_amount("12,50")
    with pytest.raises(ValueError, match="COP"):
        _ = Money.of("1", "USD") + Money.of("1", "COP")
    total = Money.of("0.10", "usd") + Money.of("0.20", "USD")
    assert total == Money(Decimal("0.30"), "USD")
    assert (Money.of("10", "USD") * Decimal("0.125")).rounded().amount == Decimal("1.25")
    assert Money.of("1.5", "USD").to_proto_fields() == {"currency_code": "USD", "amount": "1.5"}


def test_page_size_rules() -> None:
    assert pagination.page_size(0) == pagination.DEFAULT_PAGE_SIZE
    assert pagination.page_size(10) == 10
    assert pagination.page_size(10_000) == pagination.MAX_PAGE_SIZE
    with pytest.raises(InvalidArgument) as err:
        pagination.page_size(-1)
    assert err.value.violations == [FieldViolation("page_size", "must not be negative")]


def test_page_tokens_round_trip_and_are_bound_to_their_filters() -> None:
    token = pagination.encode_token(["abc", 3], {"owner": "u1"})
    assert pagination.decode_token(token, {"owner": "u1"}) == ["abc", 3]
    assert pagination.decode_token("", {"owner": "u1"}) is None
    with pytest.raises(InvalidArgument, match="different filters"):
        pagination.decode_token(token, {"owner": "u2"})
    with pytest.raises(InvalidArgument, match="page_token"):
        pagination.decode_token("not-a-token!", {})


def test_ids_are_valid_and_time_ordered() -> None:
    ids = [new_id() for _ in range(100)]
    assert all(is_valid_id(i) for i in ids)
    assert ids == sorted(ids)
    assert not is_valid_id("42") and not is_valid_id("")


def test_event_subjects_follow_the_convention() -> None:
    assert subject_for(events_pb2.ClientCreated) == "crm.contacts.v1.client_created"
    assert subject_for(events_pb2.ProspectConverted()) == "crm.contacts.v1.prospect_converted"
    assert service_of(events_pb2.ClientCreated) == "contacts"


def test_errors_become_rich_statuses() -> None:
    status = status_for(InvalidArgument.field("email", "is not valid"))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == "email: is not valid"
    assert len(status.details) == 2
    assert status_for(NotFound("client 'x' not found")).code == grpc.StatusCode.NOT_FOUND.value[0]


def test_config_defaults_and_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults, whatever the caller has set (the README documents CRM_<SERVICE>_ADDR and friends).
    for var in [v for v in os.environ if v.startswith("CRM_")]:
        monkeypatch.delenv(var)
    cfg = service_config("contacts")
    assert cfg.addr == "127.0.0.1:7102" and cfg.listen == "127.0.0.1:7102"
    assert cfg.metrics_listen == "127.0.0.1:9102"
    assert cfg.platform.start_timeout == 120
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for info in SERVICES.values():  # below the ephemeral range, where outgoing connections take ports
        assert info.grpc_port < low and info.metrics_port < low
    assert cfg.database_url.startswith("sqlite:///") and cfg.database_url.endswith("contacts.db")
    monkeypatch.setenv("CRM_DEALS_ADDR", "deals:notaport")
    with pytest.raises(ConfigError, match="CRM_DEALS_ADDR"):
        service_config("deals")
    monkeypatch.setenv("CRM_QUOTES_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError, match="CRM_QUOTES_DATABASE_URL"):
        service_config("quotes")
    monkeypatch.setenv("CRM_NATS_URL", "http://wrong")
    with pytest.raises(ConfigError, match="CRM_NATS_URL"):
        service_config("identity")
    monkeypatch.delenv("CRM_NATS_URL")
    monkeypatch.setenv("CRM_START_TIMEOUT", "-5")
    with pytest.raises(ConfigError, match="CRM_START_TIMEOUT"):
        platform_settings()


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XAG", "XDR", "XSU", "USN", "CLF", "DEM", "VEF", "HRK", "ZZZ"])
def test_only_currencies_a_business_invoices_in_are_accepted(code: str) -> None:
    """Babel's CLDR data knows these codes (test, metals, SDR, funds, historical), but nobody is
    invoiced in them: refused, naming the field."""
    with pytest.raises(InvalidArgument) as err:
        parse_currency(code, "deal.amount.currency_code")
    assert err.value.violations[0].field == "deal.amount.currency_code"
    assert not is_known_currency(code)


def test_real_currencies_are_accepted_in_any_case() -> None:
    assert {"COP", "USD", "EUR", "MXN", "CLP", "XOF", "XAF", "XCD", "XPF"} <= invoice_currencies()
    assert 140 <= len(invoice_currencies()) <= 170  # the ISO 4217 list in use, not Babel's 300
    assert parse_currency("cop") == "COP" and parse_currency(" usd ") == "USD"
    assert is_known_currency("COP") and not is_known_currency("cop")  # stored codes are upper case
