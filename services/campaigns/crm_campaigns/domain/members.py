"""Campaign members: where each stands, and how mail events and calls move them. Mailing statuses
only move forward (sent → opened → clicked); bounced and unsubscribed are final; a call sets
called, a follow-up that created a prospect or deal sets converted. Pure Python."""

from __future__ import annotations

from enum import Enum


class MemberStatus(Enum):
    PENDING = "pending"
    SENT = "sent"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    CALLED = "called"
    CONVERTED = "converted"
    SKIPPED = "skipped"


class MailEvent(Enum):
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"


class CallOutcome(Enum):
    NO_ANSWER = "no_answer"
    CALL_BACK = "call_back"
    NOT_INTERESTED = "not_interested"
    INTERESTED = "interested"
    MEETING_SET = "meeting_set"


class SendState(Enum):
    """Where a member's mail stands in the sender (see service_layer.mailing)."""

    NONE = ""
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"


# How far along the mailing path each status is; a mail event never moves a member back.
_RANK = {
    MemberStatus.PENDING: 0,
    MemberStatus.SKIPPED: 0,
    MemberStatus.SENT: 1,
    MemberStatus.OPENED: 2,
    MemberStatus.CLICKED: 3,
    MemberStatus.CALLED: 1,
    MemberStatus.CONVERTED: 4,
}
FINAL = frozenset({MemberStatus.BOUNCED, MemberStatus.UNSUBSCRIBED})
_BY_EVENT = {
    MailEvent.DELIVERED: MemberStatus.SENT,
    MailEvent.OPENED: MemberStatus.OPENED,
    MailEvent.CLICKED: MemberStatus.CLICKED,
    MailEvent.BOUNCED: MemberStatus.BOUNCED,
    MailEvent.UNSUBSCRIBED: MemberStatus.UNSUBSCRIBED,
}
# The member's column that records the first time of each event.
EVENT_COLUMN = {
    MailEvent.DELIVERED: "sent_at",
    MailEvent.OPENED: "opened_at",
    MailEvent.CLICKED: "clicked_at",
    MailEvent.BOUNCED: "bounced_at",
    MailEvent.UNSUBSCRIBED: "unsubscribed_at",
}


def after_mail_event(status: MemberStatus, event: MailEvent) -> MemberStatus:
    """The member's status after a mail event: forward only, bounced and unsubscribed final (an
    unsubscribe still wins over opened or clicked: the member must not be mailed again)."""
    if status in FINAL:
        return status
    target = _BY_EVENT[event]
    if target in FINAL:
        return target
    return target if _RANK[target] > _RANK.get(status, 0) else status


def after_call(status: MemberStatus, converted: bool) -> MemberStatus:
    if converted or status is MemberStatus.CONVERTED:
        return MemberStatus.CONVERTED
    if status in FINAL:
        return status
    return MemberStatus.CALLED


def round_robin(count: int, rep_ids: list[str]) -> list[str]:
    """The rep of each of `count` members in order: spread evenly, in turn."""
    if not rep_ids:
        return [""] * count
    return [rep_ids[i % len(rep_ids)] for i in range(count)]
