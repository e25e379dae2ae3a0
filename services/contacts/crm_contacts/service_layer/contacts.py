"""Use cases on contacts. Each runs in one unit of work: the change and its events commit together.
A contact's client is read with its row locked, so that two changes making contacts of one client
primary, or a contact added while its client is archived, are serialised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from google.protobuf.message import Message

from crm_contacts.adapters import contact_repository as repository
from crm_contacts.adapters import repository as client_repository
from crm_contacts.contract import convert
from crm_contacts.domain import contacts as rules
from crm_contacts.domain.clients import Client
from crm_contacts.domain.contacts import Contact, DecisionRole
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import touched

CREATE_SCOPE = "CreateContact"
# The fields whose normalised value another contact may not have (unless a create forces it).
DUPLICATE_FIELDS = ("email", "phones")


@dataclass(frozen=True)
class ContactFilters:
    query: str = ""
    client_id: str = ""
    # Sorted, without repeats (see crm_platform.listing.owner_filter); empty = any owner.
    owner_ids: tuple[str, ...] = ()
    decision_role: DecisionRole | None = None
    include_archived: bool = False
    created_after: datetime | None = None
    created_before: datetime | None = None


def _not_found(contact_id: str) -> NotFound:
    return NotFound(f"contact '{contact_id}' not found", reason="contact_not_found", metadata={"id": contact_id})


def _stored(uow: UnitOfWork, contact_id: str) -> Contact:
    """The contact, its row locked until the unit of work ends; NOT_FOUND if there is none."""
    if not contact_id:
        raise InvalidArgument.field("id", "is required")
    found = repository.get_contact(uow.session, contact_id, for_update=True) if is_valid_id(contact_id) else None
    if found is None:
        raise _not_found(contact_id)
    return found


def client_of(uow: UnitOfWork, client_id: str, *, lock: bool = True) -> Client | None:
    """The client a contact names (with `lock`, its row locked until the unit of work ends); None
    when the id is malformed (validation says so) or names no client."""
    client_id = client_id.strip()
    return client_repository.get_client(uow.session, client_id, for_update=lock) if is_valid_id(client_id) else None


def check_client(client: Client | None, client_id: str) -> None:
    """INVALID_ARGUMENT naming client_id unless the contact's client exists and is not archived."""
    if client is None:
        raise InvalidArgument.field("client_id", f"client '{client_id}' does not exist")
    if client.archived:
        raise InvalidArgument.field("client_id", f"client '{client_id}' is archived: no contacts are added to it")


def _refuse_duplicates(uow: UnitOfWork, contact: Contact, fields: Sequence[str] = DUPLICATE_FIELDS) -> None:
    dups = repository.find_duplicates(uow.session, contact, fields)
    if dups:
        field, existing = dups[0]
        raise AlreadyExists(
            f"a contact with this {field} already exists: {existing}",
            reason="duplicate_contact",
            metadata={"existing_id": existing, "field": field},
        )


def _store_change(uow: UnitOfWork, before: Contact, after: Contact) -> None:
    if not repository.update_contact(uow.session, after, before.version):
        raise Conflict(f"contact '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")


def demote_primary(uow: UnitOfWork, client_id: str, keep_id: str, now: datetime) -> list[Message]:
    """Makes the client's primary contact (other than `keep_id`) no longer primary, before another
    becomes it; the contact_updated events of that change (none when there was no other)."""
    current = repository.primary_contact(uow.session, client_id, for_update=True)
    if current is None or current.id == keep_id:
        return []
    after = touched(rules.demoted(current), now)
    _store_change(uow, current, after)
    return [convert.contact_updated(after, ["primary"])]


def create_contact(uow: UnitOfWork, draft: Contact, *, force_duplicate: bool = False) -> Contact:
    """Validates and stores a new contact of an existing, non-archived client and stages
    contact_created (and contact_updated for the client's previous primary contact when this one
    is primary), in the caller's unit of work (the servicer runs it through run_once with
    CREATE_SCOPE: a repeated request_id returns the first answer). An e-mail or phone another
    contact has is ALREADY_EXISTS naming it, unless `force_duplicate`."""
    now = datetime.now(UTC)
    client = client_of(uow, draft.client_id)
    contact = rules.new_contact(draft, new_id(), now, client.address.country_code if client else "")
    check_client(client, contact.client_id)
    if not force_duplicate:
        _refuse_duplicates(uow, contact)
    events = demote_primary(uow, contact.client_id, contact.id, now) if contact.primary else []
    repository.add_contact(uow.session, contact)
    uow.add_events([*events, convert.contact_created(contact)])
    return contact


def update_contact(db: Database, draft: Contact, mask: Sequence[str], *, expected_version: int = 0) -> Contact:
    """Changes the fields named in `mask` (validated as on create) and stages contact_updated with
    the names of the fields that changed. Moving it to another client needs that client to exist
    and not be archived; making it primary demotes the client's previous primary contact in the
    same transaction. A new e-mail or phone that another contact has is ALREADY_EXISTS; a stale
    `expected_version` is ABORTED. An update that changes nothing stores nothing."""
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        paths = rules.UPDATABLE.check(mask)
        # Read for the phones' default country; locked below only when the client's contacts change.
        client = client_of(uow, draft.client_id if "client_id" in paths else current.client_id, lock=False)
        country = client.address.country_code if client else ""
        after, changed = rules.updated(current, draft, mask, expected_version, country)
        if not changed:
            return current
        moved = "client_id" in changed
        promoted = after.primary and ("primary" in changed or moved)
        if moved or promoted:
            client = client_of(uow, after.client_id)
        if moved:
            check_client(client, after.client_id)
        # Only what this update adds is checked: a duplicate created on purpose does not block later edits.
        added_phones = tuple(p for p in after.phones if p not in current.phones)
        _refuse_duplicates(uow, replace(after, phones=added_phones), [f for f in DUPLICATE_FIELDS if f in changed])
        now = datetime.now(UTC)
        events = demote_primary(uow, after.client_id, after.id, now) if promoted else []
        after = touched(after, now)
        _store_change(uow, current, after)
        events.append(convert.contact_updated(after, changed))
        uow.add_events(events)
        uow.commit()
        return after


def archive_contact(db: Database, contact_id: str) -> Contact:
    """Marks the contact archived (hidden from lists unless asked for) and stages contact_archived;
    archiving an archived contact changes nothing and publishes nothing."""
    with db.uow() as uow:
        current = _stored(uow, contact_id)
        if current.archived:
            return current
        after = touched(replace(current, archived=True), datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.contact_archived(after))
        uow.commit()
        return after


def delete_contact(db: Database, contact_id: str) -> None:
    """Deletes the contact for good and stages contact_deleted; FAILED_PRECONDITION (contact_in_use)
    while a converted prospect refers to it (archive it instead)."""
    with db.uow() as uow:
        current = _stored(uow, contact_id)
        users = repository.contact_referenced_by(uow.session, current.id)
        if users:
            raise FailedPrecondition(
                f"contact '{current.id}' is referred to by {', '.join(users)}: archive it instead",
                reason="contact_in_use",
                metadata={"id": current.id, "referenced_by": ",".join(users)},
            )
        repository.delete_contact(uow.session, current.id)
        uow.add_event(convert.contact_deleted(current.id, current.client_id))
        uow.commit()


def get_contact(db: Database, contact_id: str) -> Contact:
    if not is_valid_id(contact_id):
        raise _not_found(contact_id)
    with db.read() as session:
        found = repository.get_contact(session, contact_id)
    if found is None:
        raise _not_found(contact_id)
    return found


# The most ids one BatchGetContacts may ask for.
BATCH_GET_MAX = 1000


def batch_get_contacts(db: Database, contact_ids: Sequence[str]) -> tuple[list[Contact], list[str]]:
    """The contacts that exist among `contact_ids`, in id order, and the ids that do not (in the
    order asked, without repeats): other services check their references in one call."""
    if len(contact_ids) > BATCH_GET_MAX:
        raise InvalidArgument.field("ids", f"at most {BATCH_GET_MAX} ids per call, got {len(contact_ids)}")
    wanted = list(dict.fromkeys(contact_ids))
    with db.read() as session:
        found = repository.get_contacts(session, [i for i in wanted if is_valid_id(i)])
    known = {c.id for c in found}
    return found, [i for i in wanted if i not in known]


def list_contacts(
    db: Database, filters: ContactFilters, page_size: int, page_token: str, *, include_total_size: bool = False
) -> Page[Contact]:
    """A page of the contacts matching `filters`, oldest first; with the count of every match
    when `include_total_size`."""
    wanted = filters.__dict__
    return read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_contacts(session, limit=limit, after_id=after_id, **wanted),
        (lambda session: repository.count_contacts(session, **wanted)) if include_total_size else None,
    )
