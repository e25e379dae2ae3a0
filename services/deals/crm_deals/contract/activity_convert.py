"""Translation between the contract's activity messages and domain activities (the only place
that knows both): enums both ways, with unknown numbers refused naming the field, and timestamps
as UTC datetimes."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import Message

from crm.deals.v1 import deals_pb2, events_pb2
from crm_deals.domain.activities import Activity, ActivityKind, ActivityStatus, DueFilter
from crm_platform.protoconv import EnumMap, time_from_proto

ACTIVITY_KINDS = EnumMap(
    "activity kind",
    {
        ActivityKind.CALL: deals_pb2.ACTIVITY_KIND_CALL,
        ActivityKind.MEETING: deals_pb2.ACTIVITY_KIND_MEETING,
        ActivityKind.VISIT: deals_pb2.ACTIVITY_KIND_VISIT,
        ActivityKind.TASK: deals_pb2.ACTIVITY_KIND_TASK,
        ActivityKind.EMAIL: deals_pb2.ACTIVITY_KIND_EMAIL,
    },
)
ACTIVITY_STATUSES = EnumMap(
    "activity status",
    {
        ActivityStatus.SCHEDULED: deals_pb2.ACTIVITY_STATUS_SCHEDULED,
        ActivityStatus.DONE: deals_pb2.ACTIVITY_STATUS_DONE,
        ActivityStatus.CANCELLED: deals_pb2.ACTIVITY_STATUS_CANCELLED,
    },
)
DUE_FILTERS = EnumMap(
    "due filter",
    {
        DueFilter.OVERDUE: deals_pb2.ACTIVITY_DUE_FILTER_OVERDUE,
        DueFilter.UPCOMING: deals_pb2.ACTIVITY_DUE_FILTER_UPCOMING,
    },
)


def _set_time(msg: Message, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(msg, field).FromDatetime(value)


def kind_from_proto(value: int, field: str = "kind") -> ActivityKind | None:
    return ACTIVITY_KINDS.from_proto(value, field)


def status_from_proto(value: int, field: str = "status") -> ActivityStatus | None:
    return ACTIVITY_STATUSES.from_proto(value, field)


def due_filter_from_proto(value: int, field: str = "due") -> DueFilter | None:
    return DUE_FILTERS.from_proto(value, field)


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
        kind=ACTIVITY_KINDS.to_proto(activity.kind),
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
        status=ACTIVITY_STATUSES.to_proto(activity.status),
        cancel_reason=activity.cancel_reason,
        version=activity.version,
    )
    _set_time(msg, "due_time", activity.due_time)
    _set_time(msg, "done_time", activity.done_time)
    _set_time(msg, "create_time", activity.created_at)
    _set_time(msg, "update_time", activity.updated_at)
    return msg


# --- Integration events ----------------------------------------------------------------------


def activity_scheduled(activity: Activity) -> events_pb2.ActivityScheduled:
    return events_pb2.ActivityScheduled(activity=activity_to_proto(activity))


def activity_completed(activity: Activity) -> events_pb2.ActivityCompleted:
    return events_pb2.ActivityCompleted(activity=activity_to_proto(activity))


def activity_updated(activity: Activity, changed_fields: list[str]) -> events_pb2.ActivityUpdated:
    return events_pb2.ActivityUpdated(activity=activity_to_proto(activity), changed_fields=changed_fields)


def activity_cancelled(activity: Activity) -> events_pb2.ActivityCancelled:
    return events_pb2.ActivityCancelled(activity=activity_to_proto(activity))


def activity_deleted(activity: Activity) -> events_pb2.ActivityDeleted:
    return events_pb2.ActivityDeleted(activity=activity_to_proto(activity))
