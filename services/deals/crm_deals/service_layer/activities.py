"""Use cases on activities. Each change runs in one unit of work: the change and its event commit
together. The records an activity names in the contacts service (client, contact, prospect) are
checked there before the unit of work opens, so that a contacts service that cannot answer
(UNAVAILABLE) leaves nothing written and holds no transaction open while it is waited for; the
deal, which is this service's own, is read again inside the unit of work (with a shared lock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crm_deals.adapters import activity_repository as repository
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.contract import activity_convert as convert
from crm_deals.domain import activities as rules
from crm_deals.domain.activities import Activity, ActivityKind, ActivityStatus, DueFilter
from crm_platform import pagination
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page
from crm_platform.versioning import touched

CREATE_SCOPE = "CreateActivity"


@dataclass(frozen=True)
class ActivityFilters:
    # Text search over subject and notes.
    query: str = ""
    # Sorted, without repeats (see crm_platform.listing.owner_filter); empty = any owner.
    owner_ids: tuple[str, ...] = ()
    kind: ActivityKind | None = None
    status: ActivityStatus | None = None
    due: DueFilter | None = None
    deal_id: str = ""
    client_id: str = ""
    contact_id: str = ""
    prospect_id: str = ""
    campaign_id: str = ""
    # Bounds on the due time (UTC): due_after inclusive, due_before exclusive.
    due_after: datetime | None = None
    due_before: datetime | None = None


def _not_found(activity_id: str) -> NotFound:
    return NotFound(f"activity '{activity_id}' not found", reason="activity_not_found", metadata={"id": activity_id})


def _stored(uow: UnitOfWork, activity_id: str, field: str = "id") -> Activity:
    """The activity, its row locked until the unit of work ends; NOT_FOUND if there is none
    (`field`: the request's name for the id)."""
    if not activity_id:
        raise InvalidArgument.field(field, "is required")
    found = repository.get_activity(uow.session, activity_id, for_update=True) if is_valid_id(activity_id) else None
    if found is None:
        raise _not_found(activity_id)
    return found


def _store_change(uow: UnitOfWork, before: Activity, after: Activity) -> None:
    if not repository.update_activity(uow.session, after, before.version):
        raise Conflict(f"activity '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")


def _visible(owner_id: str, allowed_owner_ids: Sequence[str]) -> bool:
    """Whether a deal or prospect of `owner_id` is one the caller may see (empty = any owner)."""
    return not allowed_owner_ids or owner_id in allowed_owner_ids


def _checked_links(
    db: Database,
    directory: ContactsDirectory,
    activity: Activity,
    before: Activity | None,
    allowed_owner_ids: Sequence[str] = (),
) -> Activity:
    """The activity with the client its deal or contact implies, once every record it names anew
    (compared with `before`; all of them for a new activity) is found to exist and not be archived,
    and its deal and contact are found to be of its client. Unknown or archived records, and a deal
    or contact of another client, are FAILED_PRECONDITION naming the field; UNAVAILABLE when the
    contacts service cannot answer. A deal or prospect named anew whose owner is outside
    `allowed_owner_ids` (the caller's scope; empty = any) is refused exactly as a missing one, and
    before anything about it (its client) can show in an error. Writes nothing."""
    if rules.relinked(activity, before):
        fresh = rules.new_links(activity, before)
        deal_client = None
        if activity.deal_id:
            with db.read() as session:
                deal = repository.deal_link(session, activity.deal_id)
            if "deal_id" in fresh and (deal is None or not _visible(deal[1], allowed_owner_ids)):
                raise rules.missing_link("deal_id", activity.deal_id)
            deal_client = deal[0] if deal is not None else None
        contact_client = None
        if activity.contact_id:
            found, _missing = directory.contacts([activity.contact_id])
            contact = found.get(activity.contact_id)
            if contact is None and "contact_id" in fresh:
                raise rules.missing_link("contact_id", activity.contact_id)
            if contact is not None and contact.archived and "contact_id" in fresh:
                raise rules.archived_link("contact_id", activity.contact_id)
            contact_client = contact.client_id if contact is not None else None
        activity = rules.linked(activity, deal_client, contact_client)
        if "client_id" in rules.new_links(activity, before):
            clients, _missing = directory.clients([activity.client_id])
            client = clients.get(activity.client_id)
            if client is None:
                raise rules.missing_link("client_id", activity.client_id)
            if client.archived:
                raise rules.archived_link("client_id", activity.client_id)
    if "prospect_id" in rules.new_links(activity, before):
        prospect = directory.prospect(activity.prospect_id)
        if prospect is None or not _visible(prospect.owner_id, allowed_owner_ids):
            raise rules.missing_link("prospect_id", activity.prospect_id)
        if prospect.archived:
            raise rules.archived_link("prospect_id", activity.prospect_id)
    return activity


def _recheck_deal(
    uow: UnitOfWork, activity: Activity, *, new_deal: bool, allowed_owner_ids: Sequence[str] = ()
) -> None:
    """Inside the unit of work: the activity's deal is still of its client and, when the change
    names it anew, still exists and is still the caller's to see (its row is share-locked on
    PostgreSQL until the change commits, so that it is not deleted or reassigned meanwhile). A deal
    gone since it was named does not block other edits."""
    if activity.deal_id:
        deal = repository.deal_link(uow.session, activity.deal_id, lock=True)
        if new_deal and (deal is None or not _visible(deal[1], allowed_owner_ids)):
            raise rules.missing_link("deal_id", activity.deal_id)
        rules.linked(activity, deal[0] if deal is not None else None, None)


def checked_new_activity(
    db: Database, directory: ContactsDirectory, draft: Activity, *, allowed_owner_ids: Sequence[str] = ()
) -> Activity:
    """The new activity validated, with the records it names checked (see _checked_links; a deal
    or prospect outside `allowed_owner_ids` is as a missing one) before any unit of work opens; a
    deal with no client named gives the activity its client."""
    activity = rules.new_activity(draft, new_id(), datetime.now(UTC))
    return _checked_links(db, directory, activity, None, allowed_owner_ids)


def create_activity(uow: UnitOfWork, activity: Activity, *, allowed_owner_ids: Sequence[str] = ()) -> Activity:
    """Stores an activity that checked_new_activity returned: scheduled (stages
    activity_scheduled) or logged already done (stages activity_completed only). The servicer
    runs it once per request_id (CREATE_SCOPE; a retry is answered without asking the contacts
    service again)."""
    _recheck_deal(uow, activity, new_deal=True, allowed_owner_ids=allowed_owner_ids)
    repository.add_activity(uow.session, activity)
    if activity.status == ActivityStatus.DONE:
        uow.add_event(convert.activity_completed(activity))
    else:
        uow.add_event(convert.activity_scheduled(activity))
    return activity


def update_activity(
    db: Database,
    directory: ContactsDirectory,
    draft: Activity,
    mask: Sequence[str],
    *,
    expected_version: int = 0,
    allowed_owner_ids: Sequence[str] = (),
) -> Activity:
    """Changes the fields named in `mask` (validated as on create; status, done time and cancel
    reason are INVALID_ARGUMENT: they have their own calls) and stages activity_updated with the
    names of the fields that changed. A new deal, client, contact or prospect is checked as on
    create (a deal or prospect outside `allowed_owner_ids` as a missing one), before the unit of
    work opens; if the activity changes meanwhile the update is ABORTED, as it is for a stale
    `expected_version`. An update that changes nothing stores nothing."""
    if not draft.id:
        raise InvalidArgument.field("id", "is required")
    paths = rules.checked_mask(mask)
    checked: Activity | None = None
    if paths & {*rules.LINKS}:
        current = get_activity(db, draft.id)
        after, _changed = rules.updated(current, draft, mask, expected_version)
        checked = _checked_links(db, directory, after, current, allowed_owner_ids)
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        if checked is None:
            after, _changed = rules.updated(current, draft, mask, expected_version)
        elif current.version == checked.version:
            after = checked  # the same change of the same activity: its links are as checked
        else:
            raise Conflict(
                f"activity '{current.id}' changed meanwhile: read it again and retry", reason="version_mismatch"
            )
        changed = rules.UPDATABLE.changed(current, after)
        if not changed:
            return current
        if "deal_id" in changed or "client_id" in changed:
            _recheck_deal(uow, after, new_deal="deal_id" in changed, allowed_owner_ids=allowed_owner_ids)
        after = touched(after, datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.activity_updated(after, changed))
        uow.commit()
        return after


def complete_activity(
    db: Database, activity_id: str, outcome: str, done_time: datetime | None, *, expected_version: int = 0
) -> Activity:
    """Marks a scheduled activity done at `done_time` (default now) with its outcome, and stages
    activity_completed. Completing it again with the same outcome changes nothing and publishes
    nothing (a retry is safe); a done (otherwise) or cancelled activity is FAILED_PRECONDITION."""
    with db.uow() as uow:
        current = _stored(uow, activity_id, "activity_id")
        after = rules.completed(current, outcome, done_time, datetime.now(UTC), expected_version)
        if after is None:
            return current
        after = touched(after, datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.activity_completed(after))
        uow.commit()
        return after


def cancel_activity(db: Database, activity_id: str, reason: str, *, expected_version: int = 0) -> Activity:
    """Cancels a scheduled activity for `reason` (required) and stages activity_cancelled.
    Cancelling it again for the same reason changes nothing and publishes nothing (a retry is
    safe); a done activity, or one cancelled for another reason, is FAILED_PRECONDITION."""
    with db.uow() as uow:
        current = _stored(uow, activity_id, "activity_id")
        after = rules.cancelled(current, reason, expected_version)
        if after is None:
            return current
        after = touched(after, datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.activity_cancelled(after))
        uow.commit()
        return after


def delete_activity(db: Database, activity_id: str) -> None:
    """Deletes the activity for good and stages activity_deleted with the activity as it was."""
    with db.uow() as uow:
        current = _stored(uow, activity_id)
        repository.delete_activity(uow.session, current.id)
        uow.add_event(convert.activity_deleted(current))
        uow.commit()


def get_activity(db: Database, activity_id: str) -> Activity:
    if not is_valid_id(activity_id):
        raise _not_found(activity_id)
    with db.read() as session:
        found = repository.get_activity(session, activity_id)
    if found is None:
        raise _not_found(activity_id)
    return found


def _page_key(key: list[Any] | None) -> tuple[datetime, str] | None:
    """The (sort time, id) a page token carries, or None for the first page."""
    if key is None:
        return None
    try:
        when, activity_id = key
        return datetime.fromisoformat(when).astimezone(UTC), str(activity_id)
    except (TypeError, ValueError):
        raise InvalidArgument.field("page_token", "is not a token this list issued") from None


def list_activities(db: Database, filters: ActivityFilters, page_size: int, page_token: str) -> Page[Activity]:
    """A page of the activities matching `filters`, by due time (an activity logged done without
    one: by its done time), then creation; keyset-paginated on that pair. The due filter (overdue,
    upcoming) is read against now on each page."""
    size = pagination.page_size(page_size)
    needle = rules.needle(filters.query)
    window = rules.due_window(filters.status, filters.due, filters.due_after, filters.due_before, datetime.now(UTC))
    bound = filters.__dict__
    after = _page_key(pagination.decode_token(page_token, bound))
    with db.read() as session:
        rows = repository.list_activities(
            session,
            limit=size + 1,
            after=after,
            needle=needle,
            owner_ids=filters.owner_ids,
            kind=filters.kind,
            status=window.status,
            start=window.start,
            end=window.end,
            deal_id=filters.deal_id,
            client_id=filters.client_id,
            contact_id=filters.contact_id,
            prospect_id=filters.prospect_id,
            campaign_id=filters.campaign_id,
        )
    if len(rows) <= size:
        return Page(rows, "")
    rows = rows[:size]
    last = rows[-1]
    return Page(rows, pagination.encode_token([last.sort_time.isoformat(), last.id], bound))
