"""Storing and reading contacts (a row each, plus one row per phone): the translation between
table rows and domain objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Result, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_contacts.adapters.search import count_rows, page_rows
from crm_contacts.adapters.tables import contact_phones, contacts, prospects
from crm_contacts.domain.contacts import Contact, DecisionRole
from crm_contacts.domain.search import needles
from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked


def _row_to_contact(row: Any, phones: Sequence[str]) -> Contact:
    return Contact(
        id=row.id,
        client_id=row.client_id,
        owner_id=row.owner_id,
        first_name=row.first_name,
        last_name=row.last_name,
        job_title=row.job_title,
        email=row.email,
        phones=tuple(phones),
        decision_role=DecisionRole(row.decision_role) if row.decision_role else None,
        primary=row.is_primary,
        archived=row.archived,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def _values(contact: Contact) -> dict[str, Any]:
    return {
        "client_id": contact.client_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "job_title": contact.job_title,
        "email": contact.email,
        "decision_role": contact.decision_role.value if contact.decision_role else "",
        "is_primary": contact.primary,
        "owner_id": contact.owner_id,
        "archived": contact.archived,
        "search_text": contact.search_text,
        "updated_at": contact.updated_at,
        "version": contact.version,
    }


def _add_phones(session: Session, new: Sequence[Contact]) -> None:
    rows = [{"contact_id": c.id, "position": i, "phone": p} for c in new for i, p in enumerate(c.phones)]
    if rows:
        session.execute(insert(contact_phones), rows)


def _phones_of(session: Session, ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rows: Result[str, str] = session.execute(
            select(contact_phones.c.contact_id, contact_phones.c.phone)
            .where(contact_phones.c.contact_id.in_(ids))
            .order_by(contact_phones.c.contact_id, contact_phones.c.position)
        )
        for contact_id, phone in rows:
            found[contact_id].append(phone)
    return found


def add_contacts(session: Session, new: Sequence[Contact]) -> None:
    """Inserts new (validated) contacts and their phones, one executemany each. Keeping a client's
    single primary contact is the caller's part (it demotes the previous one first)."""
    if new:
        session.execute(insert(contacts), [{"id": c.id, "created_at": c.created_at, **_values(c)} for c in new])
        _add_phones(session, new)


def add_contact(session: Session, contact: Contact) -> None:
    add_contacts(session, [contact])


def update_contact(session: Session, contact: Contact, read_version: int) -> bool:
    """Stores the changed contact if its row is still at `read_version`; False if another change
    came first (nothing written)."""
    result = session.execute(
        update(contacts)
        .where(contacts.c.id == contact.id, contacts.c.version == read_version)
        .values(**_values(contact))
    )
    if rows_changed(result) != 1:
        return False
    session.execute(delete(contact_phones).where(contact_phones.c.contact_id == contact.id))
    _add_phones(session, [contact])
    return True


def delete_contact(session: Session, contact_id: str) -> None:
    session.execute(delete(contact_phones).where(contact_phones.c.contact_id == contact_id))
    session.execute(delete(contacts).where(contacts.c.id == contact_id))


def get_contact(session: Session, contact_id: str, *, for_update: bool = False) -> Contact | None:
    """The contact, or None; `for_update` locks its row (PostgreSQL) until the transaction ends."""
    stmt = select(contacts).where(contacts.c.id == contact_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_contact(row, _phones_of(session, [contact_id])[contact_id])


def get_contacts(session: Session, contact_ids: Sequence[str]) -> list[Contact]:
    """The contacts of these ids that exist, in id order (a few queries however many ids)."""
    found: list[Contact] = []
    for chunk in chunked(contact_ids):
        rows = list(session.execute(select(contacts).where(contacts.c.id.in_(chunk))))
        phones = _phones_of(session, [r.id for r in rows])
        found += [_row_to_contact(r, phones[r.id]) for r in rows]
    return sorted(found, key=lambda c: c.id)


def primary_contact(session: Session, client_id: str, *, for_update: bool = False) -> Contact | None:
    """The client's primary contact, if it has one."""
    stmt = select(contacts).where(contacts.c.client_id == client_id, contacts.c.is_primary.is_(True))
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _row_to_contact(row, _phones_of(session, [row.id])[row.id])


def contact_referenced_by(session: Session, contact_id: str) -> list[str]:
    """What in this service refers to the contact: the prospect converted into it."""
    column = prospects.c.converted_contact_id
    hit = session.scalar(select(column).where(column == contact_id).limit(1))
    return ["prospects"] if hit is not None else []


def find_duplicates(
    session: Session, contact: Contact, fields: Sequence[str] = ("email", "phones")
) -> list[tuple[str, str]]:
    """(field, id of another contact) for each of `fields` ("email", "phones") whose normalised
    value another contact already has (any one of the contact's phones)."""
    found: list[tuple[str, str]] = []
    if contact.email and "email" in fields:
        hit = session.scalar(
            select(contacts.c.id)
            .where(contacts.c.email == contact.email, contacts.c.id != contact.id)
            .order_by(contacts.c.id)
            .limit(1)
        )
        if hit:
            found.append(("email", hit))
    if contact.phones and "phones" in fields:
        hit = session.scalar(
            select(contact_phones.c.contact_id)
            .where(contact_phones.c.phone.in_(contact.phones), contact_phones.c.contact_id != contact.id)
            .order_by(contact_phones.c.contact_id)
            .limit(1)
        )
        if hit:
            found.append(("phones", hit))
    return found


def _conditions(
    *,
    query: str = "",
    client_id: str = "",
    owner_ids: Sequence[str] = (),
    decision_role: DecisionRole | None = None,
    include_archived: bool = False,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[ColumnElement[bool]], tuple[str, ...]]:
    """What a list's filters ask of a contact row: conditions, and needles its search text must hold
    one of (domain.search.needles)."""
    conditions: list[ColumnElement[bool]] = []
    if not include_archived:
        conditions.append(contacts.c.archived.is_(False))
    if client_id:
        conditions.append(contacts.c.client_id == client_id)
    if owner_ids:
        conditions.append(contacts.c.owner_id.in_(owner_ids))
    if decision_role:
        conditions.append(contacts.c.decision_role == decision_role.value)
    if created_after:
        conditions.append(contacts.c.created_at >= created_after)
    if created_before:
        conditions.append(contacts.c.created_at < created_before)
    return conditions, needles(query)


def list_contacts(session: Session, *, limit: int, after_id: str | None, **filters: Any) -> list[Contact]:
    """Contacts matching `filters` (see _conditions) in id order (oldest first), keyset-paginated."""
    conditions, wanted = _conditions(**filters)
    rows = page_rows(session, contacts, conditions, wanted, after_id=after_id, limit=limit)
    phones = _phones_of(session, [r.id for r in rows])
    return [_row_to_contact(r, phones[r.id]) for r in rows]


def count_contacts(session: Session, **filters: Any) -> int:
    """How many contacts match `filters` (see _conditions)."""
    conditions, wanted = _conditions(**filters)
    return count_rows(session, contacts, conditions, wanted)
