"""Client (Cliente) rules: what a valid client is, how its fields are normalised, and what an
update may change. Pure Python: no ORM, no protobuf, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from crm_contacts.domain.common import (
    NAME_MAX,
    TEXT_MAX,
    Address,
    ContactsFields,
    check_length,
    check_owner_id,
    email_domain,
    normalise_email,
    normalise_phones,
    normalised_address,
    normalised_tax_id,
)
from crm_contacts.domain.search import search_text
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.versioning import check_version

__all__ = ["Address", "Client", "ClientKind", "updated", "validated"]

MAX_TAGS = 50

UPDATABLE = ContactsFields(
    fields=(
        "kind",
        "name",
        "legal_name",
        "tax_id",
        "industry",
        "segment_tags",
        "email",
        "phones",
        "website",
        "address",
        "owner_id",
        "source",
    ),
    # archived has its own call (ArchiveClient).
    immutable=frozenset({"id", "archived", "create_time", "update_time", "version"}),
)


class ClientKind(StrEnum):
    COMPANY = "company"
    PERSON = "person"


@dataclass(frozen=True)
class Client:
    id: str
    # None only in a draft that did not say (an update naming "kind" must give one).
    kind: ClientKind | None
    name: str
    owner_id: str
    legal_name: str = ""
    tax_country: str = ""
    tax_id: str = ""
    industry: str = ""
    segment_tags: tuple[str, ...] = ()
    email: str = ""
    phones: tuple[str, ...] = ()
    website: str = ""
    address: Address = field(default_factory=Address)
    source: str = ""
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def search_text(self) -> str:
        """What a list's text query matches: name, legal name, e-mail and tax id."""
        return search_text(self.name, self.legal_name, self.email, self.tax_id)

    @property
    def email_domain(self) -> str:
        return email_domain(self.email)


def validated(client: Client) -> Client:
    """The client with normalised fields, or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    if client.kind is None:
        problems.append(FieldViolation("kind", "is required"))
    name = client.name.strip()
    if not name:
        problems.append(FieldViolation("name", "is required"))
    else:
        check_length(name, "name", NAME_MAX, problems)
    check_owner_id(client.owner_id, problems)
    for fname in ("legal_name", "industry", "website", "source"):
        check_length(getattr(client, fname), fname, TEXT_MAX, problems)
    address = normalised_address(client.address, problems)
    tax_country, tax_id = normalised_tax_id(client.tax_country, client.tax_id, address.country_code, problems)
    email = normalise_email(client.email, "email", problems)
    phones = normalise_phones(client.phones, address.country_code, problems)
    tags = tuple(dict.fromkeys(t.strip().lower() for t in client.segment_tags if t.strip()))
    if len(tags) > MAX_TAGS:
        problems.append(FieldViolation("segment_tags", f"at most {MAX_TAGS} tags"))
    if problems:
        raise InvalidArgument(problems)
    return replace(
        client,
        name=name,
        legal_name=client.legal_name.strip(),
        tax_country=tax_country,
        tax_id=tax_id,
        email=email,
        phones=phones,
        segment_tags=tags,
        address=address,
    )


def updated(current: Client, draft: Client, mask: Sequence[str], expected_version: int = 0) -> tuple[Client, list[str]]:
    """The client with the fields named in `mask` taken from `draft`, validated and normalised as
    on create, and the names of the fields whose stored value changes (none: a no-op update).
    A non-zero `expected_version` other than the stored one is a Conflict. Version and update
    time are the caller's to bump."""
    paths = UPDATABLE.check(mask)
    check_version("client", current.id, current.version, expected_version)
    after = validated(UPDATABLE.apply(current, draft, paths))
    return after, UPDATABLE.changed(current, after)
