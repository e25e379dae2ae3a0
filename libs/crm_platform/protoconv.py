"""What every service's proto ↔ domain translation shares: a domain enum and its protobuf enum both
ways (UNSPECIFIED reads as "not given"; a number the contract lacks is INVALID_ARGUMENT naming the
field), Timestamps as UTC datetimes, and crm.common.v1.Date as dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Generic, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from crm.common.v1 import types_pb2
from crm_platform.errors import InvalidArgument

E = TypeVar("E")
# The protobuf enum: generated enums are int subclasses, and their values are typed as the enum.
P = TypeVar("P", bound=int)


class EnumMap(Generic[E, P]):
    """A domain enum and its protobuf enum (`what` names it in errors: "deal status")."""

    def __init__(self, what: str, pairs: Mapping[E, P]):
        self.what = what
        self._to = dict(pairs)
        self._from: dict[int, E] = {number: value for value, number in pairs.items()}

    def to_proto(self, value: E) -> P:
        return self._to[value]

    def from_proto(self, number: int, field: str) -> E | None:
        """None for the UNSPECIFIED value (0); InvalidArgument naming `field` for an unknown number."""
        if not number:
            return None
        value = self._from.get(number)
        if value is None:
            raise InvalidArgument.field(field, f"unknown {self.what} {number}")
        return value


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamp(value: datetime | None) -> Timestamp | None:
    """The Timestamp of an aware datetime; None (unset) for None. Exact integer arithmetic (about
    three times faster than Timestamp.FromDatetime, which a page of records calls hundreds of times)."""
    if value is None:
        return None
    micros = (value - _EPOCH) // _MICROSECOND
    return Timestamp(seconds=micros // 1_000_000, nanos=micros % 1_000_000 * 1000)


def time_from_proto(msg: Message, field: str, name: str | None = None) -> datetime | None:
    """The UTC instant of a Timestamp field of `msg`; None when it is unset. A timestamp outside
    the range the contract allows (years 1 to 9999) is InvalidArgument naming the field."""
    if not msg.HasField(field):
        return None
    try:
        instant: datetime = getattr(msg, field).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument.field(name or field, "is not a valid time (years 1 to 9999)") from None
    return instant


def date_to_proto(value: date | None) -> types_pb2.Date | None:
    return None if value is None else types_pb2.Date(year=value.year, month=value.month, day=value.day)


def date_from_proto(msg: Message, field: str, name: str | None = None) -> date | None:
    """The date of a Date field of `msg`; None when it is unset or all zero; InvalidArgument naming
    the field (`name`, else `field`) when it is not a real date."""
    if not msg.HasField(field):
        return None
    d = getattr(msg, field)
    if (d.year, d.month, d.day) == (0, 0, 0):
        return None
    try:
        return date(d.year, d.month, d.day)
    except ValueError:
        raise InvalidArgument.field(name or field, f"{d.year:04d}-{d.month:02d}-{d.day:02d} is not a date") from None
