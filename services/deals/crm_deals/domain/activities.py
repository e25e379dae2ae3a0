"""Activity (Actividad) rules: the calls, meetings, visits, tasks and e-mails a rep schedules or
logs against a deal, client, contact or prospect. What a valid activity is, its status machine
(scheduled → done with an outcome, or → cancelled with a reason; a new one is scheduled, or logged
already done), what an update may change, how the records it names must agree with each other,
and what a list's due filter means. Pure Python: no ORM, no protobuf, no I/O. Whether the named
records exist is looked up by the service layer, which hands the answers to `linked`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version

SUBJECT_MAX = 200
NOTES_MAX = 5000
OUTCOME_MAX = 1000
REASON_MAX = 500
# Owners are user ids of the identity service.
ID_MAX = 36
QUERY_MAX = 200
MAX_OWNER_IDS = 1000
# The longest planned length: a trade fair visit may take days, not months.
DURATION_MAX_SECONDS = 31 * 24 * 3600
# A done time may be this far ahead of the server's clock (the caller's clock may run ahead).
CLOCK_SKEW = timedelta(minutes=5)
# What an activity is about: at least one of these.
LINKS = ("deal_id", "client_id", "contact_id", "prospect_id")
# The record kind each id field names, as the errors say it.
_ID_KINDS = {
    "deal_id": "deal",
    "client_id": "client",
    "contact_id": "contact",
    "prospect_id": "prospect",
    "campaign_id": "campaign",
}
# Fields that change only through CompleteActivity and CancelActivity.
_OWN_CALLS = {
    "status": "CompleteActivity or CancelActivity",
    "done_time": "CompleteActivity",
    "cancel_reason": "CancelActivity",
}


class ActivityKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    VISIT = "visit"
    TASK = "task"
    EMAIL = "email"


class ActivityStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class DueFilter(StrEnum):
    """A list filter on scheduled activities' due time, relative to now."""

    OVERDUE = "overdue"
    UPCOMING = "upcoming"


UPDATABLE = UpdatableFields(
    fields=(
        "kind",
        "subject",
        "notes",
        "due_time",
        "duration_seconds",
        "outcome",
        "owner_id",
        "deal_id",
        "client_id",
        "contact_id",
        "prospect_id",
        "campaign_id",
    ),
    immutable=frozenset({"id", *_OWN_CALLS, "create_time", "update_time", "version"}),
)


@dataclass(frozen=True)
class Activity:
    id: str
    owner_id: str
    # None only in a draft that did not say.
    kind: ActivityKind | None = None
    subject: str = ""
    notes: str = ""
    # Required while scheduled; optional on an activity logged already done.
    due_time: datetime | None = None
    # Planned length; 0 = not given.
    duration_seconds: int = 0
    # Set exactly when done.
    done_time: datetime | None = None
    # What came of it; only a done activity has one.
    outcome: str = ""
    deal_id: str = ""
    client_id: str = ""
    contact_id: str = ""
    prospect_id: str = ""
    campaign_id: str = ""
    # None only in a draft that did not say (a new activity is scheduled unless logged done).
    status: ActivityStatus | None = ActivityStatus.SCHEDULED
    # Set exactly when cancelled.
    cancel_reason: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def sort_time(self) -> datetime:
        """Where the activity stands in a list: its due time or, for an activity logged done
        without one, its done time (every valid activity has one of the two)."""
        when = self.due_time or self.done_time
        assert when is not None, "only a validated activity has a place in a list"
        return when

    @property
    def search_text(self) -> str:
        """What a list's text query matches (case-insensitively): subject and notes."""
        return f"{self.subject}\n{self.notes}".casefold()


def _check_length(value: str, field: str, limit: int, problems: list[FieldViolation]) -> None:
    if len(value) > limit:
        problems.append(FieldViolation(field, f"must be at most {limit} characters"))


def _checked_id(value: str, field: str, problems: list[FieldViolation]) -> str:
    value = value.strip()
    if value and not is_valid_id(value):
        problems.append(FieldViolation(field, f"'{value}' is not a {_ID_KINDS[field]} id"))
    return value


def _check_status_fields(activity: Activity, outcome: str, reason: str, problems: list[FieldViolation]) -> None:
    """What each status requires and forbids: a due time while scheduled, a done time exactly
    when done, an outcome only when done, a reason exactly when cancelled."""
    status = activity.status
    if status is None:
        problems.append(FieldViolation("status", "is required"))
        return
    if status == ActivityStatus.SCHEDULED and activity.due_time is None:
        problems.append(FieldViolation("due_time", "a scheduled activity needs a due time"))
    if status == ActivityStatus.DONE and activity.done_time is None:
        problems.append(FieldViolation("done_time", "a done activity has a done time"))
    if status != ActivityStatus.DONE and activity.done_time is not None:
        problems.append(FieldViolation("done_time", "only a done activity has one (log it with status DONE)"))
    if status != ActivityStatus.DONE and outcome:
        problems.append(FieldViolation("outcome", "only a done activity has one (complete it to record one)"))
    if status == ActivityStatus.CANCELLED and not reason:
        problems.append(FieldViolation("cancel_reason", "a cancelled activity says why"))
    if status != ActivityStatus.CANCELLED and reason:
        problems.append(FieldViolation("cancel_reason", "only a cancelled activity has one"))


def validated(activity: Activity) -> Activity:
    """The activity with trimmed fields, or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    if activity.kind is None:
        problems.append(FieldViolation("kind", "is required (call, meeting, visit, task or e-mail)"))
    subject = activity.subject.strip()
    if not subject:
        problems.append(FieldViolation("subject", "is required"))
    _check_length(subject, "subject", SUBJECT_MAX, problems)
    notes = activity.notes.strip()
    _check_length(notes, "notes", NOTES_MAX, problems)
    outcome = activity.outcome.strip()
    _check_length(outcome, "outcome", OUTCOME_MAX, problems)
    reason = activity.cancel_reason.strip()
    _check_length(reason, "cancel_reason", REASON_MAX, problems)
    owner_id = activity.owner_id.strip()
    if not owner_id:
        problems.append(FieldViolation("owner_id", "is required"))
    _check_length(owner_id, "owner_id", ID_MAX, problems)
    if activity.duration_seconds < 0:
        problems.append(FieldViolation("duration_seconds", "must not be negative"))
    elif activity.duration_seconds > DURATION_MAX_SECONDS:
        problems.append(FieldViolation("duration_seconds", f"must be at most {DURATION_MAX_SECONDS} (31 days)"))
    deal_id = _checked_id(activity.deal_id, "deal_id", problems)
    client_id = _checked_id(activity.client_id, "client_id", problems)
    contact_id = _checked_id(activity.contact_id, "contact_id", problems)
    prospect_id = _checked_id(activity.prospect_id, "prospect_id", problems)
    campaign_id = _checked_id(activity.campaign_id, "campaign_id", problems)
    if not any((deal_id, client_id, contact_id, prospect_id)):  # none of the LINKS
        problems += [
            FieldViolation(name, "an activity is about a deal, client, contact or prospect: name at least one")
            for name in LINKS
        ]
    _check_status_fields(activity, outcome, reason, problems)
    if problems:
        raise InvalidArgument(problems)
    return replace(
        activity,
        subject=subject,
        notes=notes,
        outcome=outcome,
        cancel_reason=reason,
        owner_id=owner_id,
        deal_id=deal_id,
        client_id=client_id,
        contact_id=contact_id,
        prospect_id=prospect_id,
        campaign_id=campaign_id,
    )


def _check_done_time(done_time: datetime, now: datetime) -> None:
    if done_time > now + CLOCK_SKEW:
        raise InvalidArgument.field("done_time", "cannot be in the future")


def new_activity(draft: Activity, activity_id: str, now: datetime) -> Activity:
    """An activity as it is first stored, version 1: scheduled (status unset or SCHEDULED: a due
    time is required), or logged already done (status DONE: done at `draft.done_time`, or now)."""
    if draft.status == ActivityStatus.CANCELLED:
        raise InvalidArgument.field(
            "status", "a new activity is scheduled or done; cancel it later with CancelActivity"
        )
    status = draft.status or ActivityStatus.SCHEDULED
    done_time = draft.done_time
    if status == ActivityStatus.DONE:
        done_time = done_time or now
        _check_done_time(done_time, now)
    return validated(
        replace(
            draft,
            id=activity_id,
            status=status,
            done_time=done_time,
            created_at=now,
            updated_at=now,
            version=1,
        )
    )


def linked(activity: Activity, deal_client_id: str | None, contact_client_id: str | None) -> Activity:
    """The activity with the client its deal or contact belongs to when it names none
    (`deal_client_id`: the client of the activity's deal, None when there is no deal or it was not
    looked up; `contact_client_id` likewise for its contact). A deal or a contact of another client
    than the activity's is FailedPrecondition."""
    client_id = activity.client_id or deal_client_id or contact_client_id or ""
    if deal_client_id is not None and deal_client_id != client_id:
        raise FailedPrecondition(
            f"deal '{activity.deal_id}' is of client '{deal_client_id}', not of client '{client_id}'",
            reason="deal_of_another_client",
            metadata={"field": "deal_id", "deal_id": activity.deal_id, "client_id": client_id},
        )
    if contact_client_id is not None and contact_client_id != client_id:
        raise FailedPrecondition(
            f"contact '{activity.contact_id}' is of client '{contact_client_id}', not of client '{client_id}'",
            reason="contact_of_another_client",
            metadata={"field": "contact_id", "contact_id": activity.contact_id, "client_id": client_id},
        )
    return replace(activity, client_id=client_id)


def missing_link(field: str, record_id: str) -> FailedPrecondition:
    """The error for an id that names no record (reason e.g. client_not_found)."""
    kind = _ID_KINDS[field]
    return FailedPrecondition(
        f"{field}: {kind} '{record_id}' does not exist",
        reason=f"{kind}_not_found",
        metadata={"field": field, "id": record_id},
    )


def archived_link(field: str, record_id: str) -> FailedPrecondition:
    """The error for an id that names an archived record: no new work is planned on one."""
    kind = _ID_KINDS[field]
    return FailedPrecondition(
        f"{field}: {kind} '{record_id}' is archived",
        reason=f"{kind}_archived",
        metadata={"field": field, "id": record_id},
    )


def new_links(after: Activity, before: Activity | None) -> frozenset[str]:
    """The link fields (LINKS) that name a record `before` did not (every named one for a new activity)."""
    return frozenset(
        name
        for name in LINKS
        if getattr(after, name) and (before is None or getattr(before, name) != getattr(after, name))
    )


def relinked(after: Activity, before: Activity | None) -> bool:
    """Whether the deal, client or contact changed, so that their agreement is checked again."""
    return before is None or any(
        getattr(after, n) != getattr(before, n) for n in ("deal_id", "client_id", "contact_id")
    )


def checked_mask(mask: Sequence[str]) -> frozenset[str]:
    """The update mask's paths ('*' = every updatable field), or InvalidArgument naming the
    status fields (they have their own calls) and any other path an update may not name."""
    own = [path for path in mask if path in _OWN_CALLS]
    if own:
        raise InvalidArgument(
            [FieldViolation("update_mask", f"'{p}' changes only through {_OWN_CALLS[p]}") for p in own]
        )
    return UPDATABLE.check(mask)


def updated(
    current: Activity, draft: Activity, mask: Sequence[str], expected_version: int = 0
) -> tuple[Activity, list[str]]:
    """The activity with the fields named in `mask` taken from `draft`, validated as on create,
    and the names of the fields whose stored value changes. A non-zero `expected_version` other
    than the stored one is a Conflict. The client a deal or contact implies is the caller's to
    fill in (`linked`); version and update time are the caller's to bump."""
    paths = checked_mask(mask)
    check_version("activity", current.id, current.version, expected_version)
    after = validated(UPDATABLE.apply(current, draft, paths))
    return after, UPDATABLE.changed(current, after)


def _state_error(activity: Activity, verb: str) -> FailedPrecondition:
    if activity.status == ActivityStatus.DONE:
        detail, reason = "is already done", "activity_already_done"
    else:
        detail, reason = "is cancelled", "activity_cancelled"
    return FailedPrecondition(
        f"activity '{activity.id}' {detail}: it cannot be {verb}",
        reason=reason,
        metadata={"id": activity.id, "activity_status": str(activity.status)},
    )


def completed(
    current: Activity, outcome: str, done_time: datetime | None, now: datetime, expected_version: int = 0
) -> Activity | None:
    """The activity done at `done_time` (or now) with `outcome`; None when it is already done with
    that outcome (and that done time, when one is given): a retried completion changes nothing.
    Completing an activity done otherwise, or cancelled, is FailedPrecondition."""
    outcome = outcome.strip()
    problems: list[FieldViolation] = []
    _check_length(outcome, "outcome", OUTCOME_MAX, problems)
    if problems:
        raise InvalidArgument(problems)
    if done_time is not None:
        _check_done_time(done_time, now)
    same_time = done_time is None or done_time == current.done_time
    if current.status == ActivityStatus.DONE and outcome == current.outcome and same_time:
        return None
    if current.status != ActivityStatus.SCHEDULED:
        raise _state_error(current, "completed")
    check_version("activity", current.id, current.version, expected_version)
    return validated(replace(current, status=ActivityStatus.DONE, done_time=done_time or now, outcome=outcome))


def cancelled(current: Activity, reason: str, expected_version: int = 0) -> Activity | None:
    """The activity cancelled for `reason` (required); None when it is already cancelled for that
    reason (a retried cancellation changes nothing). Cancelling an activity that is done, or
    cancelled for another reason, is FailedPrecondition."""
    reason = reason.strip()
    if not reason:
        raise InvalidArgument.field("reason", "say why the activity is cancelled")
    if len(reason) > REASON_MAX:
        raise InvalidArgument.field("reason", f"must be at most {REASON_MAX} characters")
    if current.status == ActivityStatus.CANCELLED and reason == current.cancel_reason:
        return None
    if current.status != ActivityStatus.SCHEDULED:
        raise _state_error(current, "cancelled")
    check_version("activity", current.id, current.version, expected_version)
    return validated(replace(current, status=ActivityStatus.CANCELLED, cancel_reason=reason))


# --- Lists ---------------------------------------------------------------------------------------


def needle(query: str) -> str:
    """What a record's search text must contain to match a list's text query (empty: no filter)."""
    if len(query) > QUERY_MAX:
        raise InvalidArgument.field("query", f"must be at most {QUERY_MAX} characters")
    return query.strip().casefold()


@dataclass(frozen=True)
class DueWindow:
    """What a list asks of the activities' status and due time once its due filter is read
    against now: bounds on the due time, `start` inclusive and `end` exclusive."""

    status: ActivityStatus | None = None
    start: datetime | None = None
    end: datetime | None = None


def due_window(
    status: ActivityStatus | None,
    due: DueFilter | None,
    due_after: datetime | None,
    due_before: datetime | None,
    now: datetime,
) -> DueWindow:
    """Overdue: scheduled and due before now; upcoming: scheduled and due now or later; either
    within due_after (inclusive) and due_before (exclusive) when they are given. A due filter
    with a status other than scheduled, or bounds that leave no time between them, are
    InvalidArgument."""
    if due_after is not None and due_before is not None and due_before <= due_after:
        raise InvalidArgument.field("due_before", "must be later than due_after")
    if due is None:
        return DueWindow(status, due_after, due_before)
    if status not in (None, ActivityStatus.SCHEDULED):
        raise InvalidArgument.field("due", "overdue and upcoming are scheduled activities: leave status unset")
    if due == DueFilter.OVERDUE:
        end = now if due_before is None else min(due_before, now)
        return DueWindow(ActivityStatus.SCHEDULED, due_after, end)
    start = now if due_after is None else max(due_after, now)
    return DueWindow(ActivityStatus.SCHEDULED, start, due_before)
