"""Translation between the contract's activity messages and domain activities (the only place
that knows both): enums both ways, with unknown numbers refused naming the field, and timestamps
as UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.message import Message

from crm.deals.v1 import deals_pb2
from crm_deals.domain.activities import Activity, ActivityKind, ActivityStatus, DueFilter
from crm_platform.errors import InvalidArgument

_KIND_TO_PROTO = {
    ActivityKind.CALL: deals_pb2.ACTIVITY_KIND_CALL,
    ActivityKind.MEETING: deals_pb2.ACTIVITY_KIND_MEETING,
    ActivityKind.VISIT: deals_pb2.ACTIVITY_KIND_VISIT,
    ActivityKind.TASK: deals_pb2.ACTIVITY_KIND_TASK,
    ActivityKind.EMAIL: deals_pb2.ACTIVITY_KIND_EMAIL,
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}

_STATUS_TO_PROTO = {
    ActivityStatus.SCHEDULED: deals_pb2.ACTIVITY_STATUS_SCHEDULED,
    ActivityStatus.DONE: deals_pb2.ACTIVITY_STATUS_DONE,
    ActivityStatus.CANCELLED: deals_pb2.ACTIVITY_STATUS_CANCELLED,
}
_STATUS_FROM_PROTO = {v: k for k, v in _STATUS_TO_PROTO.items()}

_DUE_FROM_PROTO = {
    deals_pb2.ACTIVITY_DUE_FILTER_OVERDUE: DueFilter.OVERDUE,
    deals_pb2.ACTIVITY_DUE_FILTER_UPCOMING: DueFilter.UPCOMING,
}


def time_from_proto(msg: Message, field: str) -> datetime | None:
    """The UTC instant of a Timestamp field of `msg`; None when it is unset. A timestamp outside
    the range the contract allows (years 1 to 9999) is InvalidArgument naming the field."""
    if not msg.HasField(field):
        return None
    try:
        return getattr(msg, field).ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]
    except (ValueError, OverflowError):
        raise InvalidArgument.field(field, "is not a valid time (years 1 to 9999)") from None


def _set_time(msg: Message, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(msg, field).FromDatetime(value)


def kind_from_proto(value: int, field: str = "kind") -> ActivityKind | None:
    """None for ACTIVITY_KIND_UNSPECIFIED; InvalidArgument for a number the contract lacks."""
    if not value:
        return None
    kind = _KIND_FROM_PROTO.get(value)  # type: ignore[call-overload]
    if kind is None:
        raise InvalidArgument.field(field, f"unknown activity kind {value}")
    return kind


def status_from_proto(value: int, field: str = "status") -> ActivityStatus | None:
    """None for ACTIVITY_STATUS_UNSPECIFIED; InvalidArgument for a number the contract lacks."""
    if not value:
        return None
    status = _STATUS_FROM_PROTO.get(value)  # type: ignore[call-overload]
    if status is None:
        raise InvalidArgument.field(field, f"unknown activity status {value}")
    return status


def due_filter_from_proto(value: int, field: str = "due") -> DueFilter | None:
    """None for ACTIVITY_DUE_FILTER_UNSPECIFIED; InvalidArgument for a number the contract lacks."""
    if not value:
        return None
    due = _DUE_FROM_PROTO.get(value)  # type: ignore[call-overload]
    if due is None:
        raise InvalidArgument.field(field, f"unknown due filter {value}")
    return due


def activity_from_proto(msg: deals_pb2.Activity) -> Activity:
    """A draft activity; output-only fields (times of creation and change, version) are left out."""
    return Activity(
        id=msg.id,
        owner_id=msg.owner_id,
        kind=kind_from_proto(msg.kind),
        subject=msg.subject,
        notes=msg.notes,
        due_time=time_from_proto(msg, "due_time"),
        duration_seconds=msg.duration_seconds,
        done_time=time_from_proto(msg, "done_time"),
        outcome=msg.outcome,
        deal_id=msg.deal_id,
        client_id=msg.client_id,
        contact_id=msg.contact_id,
        prospect_id=msg.prospect_id,
        campaign_id=msg.campaign_id,
        status=status_from_proto(msg.status),
        cancel_reason=msg.cancel_reason,
    )


def activity_to_proto(activity: Activity) -> deals_pb2.Activity:
    assert activity.kind is not None and activity.status is not None, "only a validated activity is sent"
    msg = deals_pb2.Activity(
        id=activity.id,
        kind=_KIND_TO_PROTO[activity.kind],
        subject=activity.subject,
        notes=activity.notes,
        duration_seconds=activity.duration_seconds,
        outcome=activity.outcome,
        owner_id=activity.owner_id,
        deal_id=activity.deal_id,
        client_id=activity.client_id,
        contact_id=activity.contact_id,
        prospect_id=activity.prospect_id,
        campaign_id=activity.campaign_id,
        status=_STATUS_TO_PROTO[activity.status],
        cancel_reason=activity.cancel_reason,
        version=activity.version,
    )
    _set_time(msg, "due_time", activity.due_time)
    _set_time(msg, "done_time", activity.done_time)
    _set_time(msg, "create_time", activity.created_at)
    _set_time(msg, "update_time", activity.updated_at)
    return msg
