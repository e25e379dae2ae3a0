"""Use cases on prospects. Each runs in one unit of work: the change and its event commit together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from crm_contacts.adapters import prospect_repository as repository
from crm_contacts.contract import convert
from crm_contacts.domain import prospects as rules
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import touched

CREATE_SCOPE = "CreateProspect"


@dataclass(frozen=True)
class ProspectFilters:
    query: str = ""
    # Sorted, without repeats (see crm_platform.listing.owner_filter); empty = any owner.
    owner_ids: tuple[str, ...] = ()
    status: ProspectStatus | None = None
    source: ProspectSource | None = None
    source_campaign_id: str = ""
    include_archived: bool = False
    city: str = ""
    country_code: str = ""
    industry: str = ""
    # Created at or after / before (UTC).
    created_after: datetime | None = None
    created_before: datetime | None = None


def _not_found(prospect_id: str) -> NotFound:
    return NotFound(f"prospect '{prospect_id}' not found", reason="prospect_not_found", metadata={"id": prospect_id})


def _stored(uow: UnitOfWork, prospect_id: str) -> Prospect:
    """The prospect, its row locked until the unit of work ends; NOT_FOUND if there is none."""
    if not prospect_id:
        raise InvalidArgument.field("id", "is required")
    found = repository.get_prospect(uow.session, prospect_id, for_update=True) if is_valid_id(prospect_id) else None
    if found is None:
        raise _not_found(prospect_id)
    return found


def _refuse_duplicates(uow: UnitOfWork, prospect: Prospect, fields: Sequence[str] = ("email", "phones")) -> None:
    dups = repository.find_duplicates(uow.session, prospect, fields)
    if dups:
        field, existing = dups[0]
        raise AlreadyExists(
            f"a prospect with this {field} already exists: {existing}",
            reason="duplicate_prospect",
            metadata={"existing_id": existing, "field": field},
        )


def create_prospect(uow: UnitOfWork, draft: Prospect, *, force_duplicate: bool = False) -> Prospect:
    """Validates and stores a new prospect (status NEW) and stages prospect_created, in the
    caller's unit of work (the servicer runs it through run_once with CREATE_SCOPE: a repeated
    request_id returns the first answer). An e-mail or phone that another prospect has is
    ALREADY_EXISTS naming it, unless `force_duplicate`."""
    prospect = rules.new_prospect(draft, new_id(), datetime.now(UTC))
    if not force_duplicate:
        _refuse_duplicates(uow, prospect)
    repository.add_prospect(uow.session, prospect)
    uow.add_event(convert.prospect_created(prospect))
    return prospect


def update_prospect(db: Database, draft: Prospect, mask: Sequence[str], *, expected_version: int = 0) -> Prospect:
    """Changes the fields named in `mask` (status by the status machine) and stages
    prospect_updated with the names of the fields that changed. A new e-mail or phone that
    another prospect has is ALREADY_EXISTS; a stale `expected_version` is ABORTED; a converted
    prospect is FAILED_PRECONDITION. An update that changes nothing stores nothing."""
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        after, changed = rules.updated(current, draft, mask, expected_version)
        if not changed:
            return current
        # Only what this update adds is checked: a duplicate created on purpose does not block later edits.
        added_phones = tuple(p for p in after.phones if p not in current.phones)
        _refuse_duplicates(uow, replace(after, phones=added_phones), [f for f in ("email", "phones") if f in changed])
        after = touched(after, datetime.now(UTC))
        if not repository.update_prospect(uow.session, after, current.version):
            raise Conflict(
                f"prospect '{current.id}' changed meanwhile: read it again and retry", reason="version_mismatch"
            )
        uow.add_event(convert.prospect_updated(after, changed))
        uow.commit()
        return after


def archive_prospect(db: Database, prospect_id: str) -> Prospect:
    """Marks the prospect archived (hidden from lists unless asked for; no longer convertible) and
    stages prospect_archived; archiving an archived prospect changes nothing and publishes nothing."""
    with db.uow() as uow:
        current = _stored(uow, prospect_id)
        if current.archived:
            return current
        after = touched(replace(current, archived=True), datetime.now(UTC))
        if not repository.update_prospect(uow.session, after, current.version):
            raise Conflict(
                f"prospect '{current.id}' changed meanwhile: read it again and retry", reason="version_mismatch"
            )
        uow.add_event(convert.prospect_archived(after))
        uow.commit()
        return after


def delete_prospect(db: Database, prospect_id: str) -> None:
    """Deletes the prospect for good and stages prospect_deleted; a converted prospect stays
    (FAILED_PRECONDITION), as the record of its conversion."""
    with db.uow() as uow:
        current = _stored(uow, prospect_id)
        rules.check_changeable(current)
        repository.delete_prospect(uow.session, current.id)
        uow.add_event(convert.prospect_deleted(current.id))
        uow.commit()


def get_prospect(db: Database, prospect_id: str) -> Prospect:
    if not is_valid_id(prospect_id):
        raise _not_found(prospect_id)
    with db.read() as session:
        found = repository.get_prospect(session, prospect_id)
    if found is None:
        raise _not_found(prospect_id)
    return found


def list_prospects(
    db: Database, filters: ProspectFilters, page_size: int, page_token: str, *, include_total_size: bool = False
) -> Page[Prospect]:
    """A page of the prospects matching `filters`, oldest first; with the count of every match
    when `include_total_size`."""
    wanted = filters.__dict__
    return read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: repository.list_prospects(session, limit=limit, after_id=after_id, **wanted),
        (lambda session: repository.count_prospects(session, **wanted)) if include_total_size else None,
    )
