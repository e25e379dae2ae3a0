"""Contact (Contacto) rules: a person inside a client, what a valid one is, how its fields are
normalised, and what an update may change. Pure Python: no ORM, no protobuf, no I/O. Whether its
client exists (and is not archived) and which contact is the client's primary one are checked
where the data is, in the service layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from crm_contacts.domain.common import (
    NAME_MAX,
    TEXT_MAX,
    ContactsFields,
    check_length,
    check_owner_id,
    normalise_email,
    normalise_phones,
)
from crm_contacts.domain.search import search_text
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.versioning import check_version

UPDATABLE = ContactsFields(
    fields=(
        "client_id",
        "first_name",
        "last_name",
        "job_title",
        "email",
        "phones",
        "decision_role",
        "primary",
        "owner_id",
    ),
    # archived has its own call (ArchiveContact).
    immutable=frozenset({"id", "archived", "create_time", "update_time", "version"}),
)


class DecisionRole(StrEnum):
    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    USER = "user"
    OTHER = "other"


@dataclass(frozen=True)
class Contact:
    id: str
    client_id: str
    owner_id: str
    first_name: str = ""
    last_name: str = ""
    job_title: str = ""
    email: str = ""
    phones: tuple[str, ...] = ()
    # None: not said.
    decision_role: DecisionRole | None = None
    # The client's main contact; a client has at most one.
    primary: bool = False
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def search_text(self) -> str:
        """What a list's text query matches: names and e-mail."""
        return search_text(self.first_name, self.last_name, self.email)


def validated(contact: Contact, phone_country: str = "") -> Contact:
    """The contact with normalised fields, or InvalidArgument naming every bad field. Phones
    written without +country are read as numbers of `phone_country` (its client's country)."""
    problems: list[FieldViolation] = []
    client_id = contact.client_id.strip()
    if not client_id:
        problems.append(FieldViolation("client_id", "is required"))
    elif not is_valid_id(client_id):
        problems.append(FieldViolation("client_id", f"'{client_id}' is not a client id"))
    names = {n: getattr(contact, n).strip() for n in ("first_name", "last_name")}
    if not any(names.values()):
        problems.append(FieldViolation("first_name", "a first or last name is required"))
    for name, value in names.items():
        check_length(value, name, NAME_MAX, problems)
    job_title = contact.job_title.strip()
    check_length(job_title, "job_title", TEXT_MAX, problems)
    check_owner_id(contact.owner_id, problems)
    email = normalise_email(contact.email, "email", problems)
    phones = normalise_phones(contact.phones, phone_country, problems)
    if problems:
        raise InvalidArgument(problems)
    return replace(contact, client_id=client_id, **names, job_title=job_title, email=email, phones=phones)


def new_contact(draft: Contact, contact_id: str, now: datetime, phone_country: str = "") -> Contact:
    """A contact as it is first stored: validated, version 1, not archived."""
    return validated(
        replace(draft, id=contact_id, archived=False, created_at=now, updated_at=now, version=1), phone_country
    )


def updated(
    current: Contact, draft: Contact, mask: Sequence[str], expected_version: int = 0, phone_country: str = ""
) -> tuple[Contact, list[str]]:
    """The contact with the fields named in `mask` taken from `draft`, validated and normalised as
    on create, and the names of the fields whose stored value changes (none: a no-op update). A
    non-zero `expected_version` other than the stored one is a Conflict. Version and update time
    are the caller's to bump."""
    paths = UPDATABLE.check(mask)
    check_version("contact", current.id, current.version, expected_version)
    after = validated(UPDATABLE.apply(current, draft, paths), phone_country)
    return after, UPDATABLE.changed(current, after)


def demoted(contact: Contact) -> Contact:
    """The contact no longer its client's primary one (another contact became it)."""
    return replace(contact, primary=False)
