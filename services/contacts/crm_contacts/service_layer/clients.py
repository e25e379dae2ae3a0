"""Use cases on clients. Each runs in one unit of work: the change and its event commit together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from crm_contacts.adapters import repository
from crm_contacts.contract import convert
from crm_contacts.domain import clients as rules
from crm_contacts.domain.clients import Client, ClientKind, validated
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import AlreadyExists, Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import touched

CREATE_SCOPE = "CreateClient"


@dataclass(frozen=True)
class ClientFilters:
    query: str = ""
    # Sorted, without repeats (see crm_platform.listing.owner_filter); empty = any owner.
    owner_ids: tuple[str, ...] = ()
    segment_tag: str = ""
    city: str = ""
    country_code: str = ""
    include_archived: bool = False
    industry: str = ""
    source: str = ""
    kind: ClientKind | None = None
    # Created at or after / before (UTC).
    created_after: datetime | None = None
    created_before: datetime | None = None


# The fields whose normalised value another client may not have (unless a create forces it).
DUPLICATE_FIELDS = ("email", "phones", "tax_id")


def _not_found(client_id: str) -> NotFound:
    return NotFound(f"client '{client_id}' not found", reason="client_not_found", metadata={"id": client_id})


def _stored(uow: UnitOfWork, client_id: str) -> Client:
    """The client, its row locked until the unit of work ends; NOT_FOUND if there is none."""
    if not client_id:
        raise InvalidArgument.field("id", "is required")
    client = repository.get_client(uow.session, client_id, for_update=True) if is_valid_id(client_id) else None
    if client is None:
        raise _not_found(client_id)
    return client


def _refuse_duplicates(uow: UnitOfWork, client: Client, fields: Sequence[str] = DUPLICATE_FIELDS) -> None:
    dups = repository.find_duplicates(uow.session, client, fields)
    if dups:
        field, existing = dups[0]
        raise AlreadyExists(
            f"a client with this {field} already exists: {existing}",
            reason="duplicate_client",
            metadata={"existing_id": existing, "field": field},
        )


def _store_change(uow: UnitOfWork, before: Client, after: Client) -> None:
    if not repository.update_client(uow.session, after, before.version):
        raise Conflict(f"client '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")


def create_client(uow: UnitOfWork, draft: Client, *, force_duplicate: bool = False) -> Client:
    """Validates and stores a new client and stages client_created, in the caller's unit of work
    (the servicer runs it through run_once with CREATE_SCOPE: a repeated request_id returns the
    first answer). A duplicate e-mail, phone or tax id is ALREADY_EXISTS naming the existing
    client, unless `force_duplicate`."""
    now = datetime.now(UTC)
    client = replace(validated(draft), id=new_id(), created_at=now, updated_at=now, version=1, archived=False)
    if not force_duplicate:
        _refuse_duplicates(uow, client)
    repository.add_client(uow.session, client)
    uow.add_event(convert.client_created(client))
    return client


def update_client(db: Database, draft: Client, mask: Sequence[str], *, expected_version: int = 0) -> Client:
    """Changes the fields named in `mask` (validated as on create) and stages client_updated with
    the names of the fields that changed. A new e-mail, phone or tax id that another client has is
    ALREADY_EXISTS; a stale `expected_version` is ABORTED. An update that changes nothing
    stores nothing and publishes nothing."""
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        after, changed = rules.updated(current, draft, mask, expected_version)
        if not changed:
            return current
        # Only what this update adds is checked: a duplicate created on purpose does not block later edits.
        added_phones = tuple(p for p in after.phones if p not in current.phones)
        _refuse_duplicates(uow, replace(after, phones=added_phones), [f for f in DUPLICATE_FIELDS if f in changed])
        after = touched(after, datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.client_updated(after, changed))
        uow.commit()
        return after


def archive_client(db: Database, client_id: str) -> Client:
    """Marks the client archived (hidden from lists unless asked for) and stages client_archived;
    archiving an archived client changes nothing and publishes nothing."""
    with db.uow() as uow:
        current = _stored(uow, client_id)
        if current.archived:
            return current
        after = touched(replace(current, archived=True), datetime.now(UTC))
        _store_change(uow, current, after)
        uow.add_event(convert.client_archived(after))
        uow.commit()
        return after


def delete_client(db: Database, client_id: str) -> None:
    """Deletes the client for good and stages client_deleted; FAILED_PRECONDITION (client_in_use)
    while anything in this service refers to it (archive it instead)."""
    with db.uow() as uow:
        current = _stored(uow, client_id)
        users = repository.client_referenced_by(uow.session, current.id)
        if users:
            raise FailedPrecondition(
                f"client '{current.id}' is referred to by {', '.join(users)}: archive it instead",
                reason="client_in_use",
                metadata={"id": current.id, "referenced_by": ",".join(users)},
            )
        repository.delete_client(uow.session, current.id)
        uow.add_event(convert.client_deleted(current.id))
        uow.commit()


def get_client(db: Database, client_id: str) -> Client:
    if not is_valid_id(client_id):
        raise _not_found(client_id)
    with db.read() as session:
        client = repository.get_client(session, client_id)
    if client is None:
        raise _not_found(client_id)
    return client


# The most ids one BatchGetClients may ask for.
BATCH_GET_MAX = 1000


def batch_get_clients(db: Database, client_ids: Sequence[str]) -> tuple[list[Client], list[str]]:
    """The clients that exist among `client_ids`, in id order, and the ids that do not (in the
    order asked, without repeats). Other services check their references with it in one call."""
    if len(client_ids) > BATCH_GET_MAX:
        raise InvalidArgument.field("ids", f"at most {BATCH_GET_MAX} ids per call, got {len(client_ids)}")
    wanted = list(dict.fromkeys(client_ids))
    valid = [i for i in wanted if is_valid_id(i)]
    with db.read() as session:
        found = repository.get_clients(session, valid)
    known = {c.id for c in found}
    return found, [i for i in wanted if i not in known]


def list_clients(
    db: Database, filters: ClientFilters, page_size: int, page_token: str, *, include_total_size: bool = False
) -> Page[Client]:
    """A page of the clients matching `filters`, oldest first; with the count of every match
    when `include_total_size`."""
    wanted = filters.__dict__
    return read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_clients(session, limit=limit, after_id=after_id, **wanted),
        (lambda session: repository.count_clients(session, **wanted)) if include_total_size else None,
    )
