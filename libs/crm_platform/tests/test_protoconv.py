"""The translation helpers every service's convert module uses: enums both ways with errors that
name the field, timestamps and dates, and what is refused."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2
from crm_platform.errors import InvalidArgument
from crm_platform.protoconv import EnumMap, date_from_proto, date_to_proto, time_from_proto, timestamp


class Status(enum.Enum):
    OPEN = "open"
    WON = "won"


STATUSES = EnumMap("deal status", {Status.OPEN: deals_pb2.DEAL_STATUS_OPEN, Status.WON: deals_pb2.DEAL_STATUS_WON})


def test_enums_both_ways_and_unknown_numbers_name_the_field() -> None:
    assert STATUSES.to_proto(Status.WON) == deals_pb2.DEAL_STATUS_WON
    assert STATUSES.from_proto(deals_pb2.DEAL_STATUS_OPEN, "status") is Status.OPEN
    assert STATUSES.from_proto(0, "status") is None  # UNSPECIFIED: not given
    with pytest.raises(InvalidArgument) as err:
        STATUSES.from_proto(deals_pb2.DEAL_STATUS_LOST, "filter.status")  # in the contract, not in this map
    assert err.value.violations[0].field == "filter.status" and "unknown deal status 3" in str(err.value)


def test_times_and_dates() -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    deal = deals_pb2.Deal(create_time=timestamp(at))
    assert time_from_proto(deal, "create_time") == at and time_from_proto(deal, "won_time") is None
    deal.won_time.seconds = 400_000_000_000  # beyond year 9999
    with pytest.raises(InvalidArgument) as err:
        time_from_proto(deal, "won_time", "deal.won_time")
    assert err.value.violations[0].field == "deal.won_time"
    assert timestamp(None) is None
    for t in (
        datetime(1969, 12, 31, 23, 59, 59, 250_000, tzinfo=UTC),
        datetime(2026, 3, 2, 9, 30, 0, 123_456, tzinfo=UTC),
    ):
        expected = Timestamp()
        expected.FromDatetime(t)
        assert timestamp(t) == expected  # the same as protobuf's own conversion, before 1970 too

    deal = deals_pb2.Deal(expected_close_date=date_to_proto(date(2026, 6, 30)))
    assert date_from_proto(deal, "expected_close_date") == date(2026, 6, 30)
    assert date_from_proto(deals_pb2.Deal(expected_close_date=types_pb2.Date()), "expected_close_date") is None
    bad = deals_pb2.Deal(expected_close_date=types_pb2.Date(year=2026, month=2, day=30))
    with pytest.raises(InvalidArgument) as err:
        date_from_proto(bad, "expected_close_date", "deal.expected_close_date")
    assert err.value.violations[0].field == "deal.expected_close_date" and "2026-02-30" in str(err.value)
