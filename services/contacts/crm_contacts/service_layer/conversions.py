"""Converting a prospect into a client and its contact, exactly once, in one unit of work: the new
(or reused) client, the contact, the converted prospect and their events commit together.

Exactly once: the prospect's row is read locked (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
every writing transaction starts with BEGIN IMMEDIATE, so writers run one at a time) and its
status is checked inside that transaction. A convert that finds the prospect already converted
(an earlier call, or one that raced it and won) returns that first result and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from google.protobuf.message import Message

from crm_contacts.adapters import contact_repository, prospect_repository
from crm_contacts.adapters import repository as client_repository
from crm_contacts.contract import convert
from crm_contacts.domain import contacts as contact_rules
from crm_contacts.domain import conversion as rules
from crm_contacts.domain.clients import Client, validated
from crm_contacts.domain.contacts import Contact
from crm_contacts.domain.conversion import DealRequest
from crm_contacts.domain.prospects import Prospect, ProspectStatus
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id


@dataclass(frozen=True)
class Conversion:
    client: Client
    # None when the prospect named no person (only a company).
    contact: Contact | None
    prospect: Prospect
    # Whether the conversion created the client (false: it reused a matching one).
    client_created: bool
    # Whether this call converted the prospect (false: an earlier call had; this is its result).
    converted_now: bool = False


def _not_found(prospect_id: str) -> NotFound:
    return NotFound(f"prospect '{prospect_id}' not found", reason="prospect_not_found", metadata={"id": prospect_id})


def convert_prospect(
    db: Database, prospect_id: str, *, reuse_matching_client: bool = False, deal: DealRequest | None = None
) -> Conversion:
    """Creates the client (or, with `reuse_matching_client`, reuses a non-archived one with the
    prospect's tax id, or else with its company e-mail domain) and the prospect's person as a
    contact of it (primary unless a reused client has one), marks the prospect converted, and
    stages client_created, contact_created and prospect_converted (which carries `deal` for the
    deals service). Converting a converted prospect returns the first result and creates nothing,
    with `converted_now` false: of two racing calls exactly one converts (the other waits on the
    prospect's row, or loses the version check and reads the winner's result); a disqualified or
    archived one is FAILED_PRECONDITION."""
    deal = deal or DealRequest()
    if not prospect_id:
        raise InvalidArgument.field("prospect_id", "is required")
    if not is_valid_id(prospect_id):
        raise _not_found(prospect_id)
    try:
        return _convert(db, prospect_id, reuse_matching_client, deal)
    except Conflict:
        # Another call converted it between our read and our write: answer with its result.
        with db.uow() as uow:
            prospect = prospect_repository.get_prospect(uow.session, prospect_id)
            if prospect is None or prospect.status != ProspectStatus.CONVERTED:
                raise
            return _first_result(uow, prospect)


def _convert(db: Database, prospect_id: str, reuse_matching_client: bool, deal: DealRequest) -> Conversion:
    with db.uow() as uow:
        prospect = prospect_repository.get_prospect(uow.session, prospect_id, for_update=True)
        if prospect is None:
            raise _not_found(prospect_id)
        if prospect.status == ProspectStatus.CONVERTED:
            return _first_result(uow, prospect)
        rules.check_convertible(prospect)
        now = datetime.now(UTC)
        events: list[Message] = []

        client = None
        if reuse_matching_client:
            client = client_repository.find_matching_client(
                uow.session,
                tax_country=prospect.tax_country,
                tax_id=prospect.tax_id,
                email_domain=rules.company_domain(prospect.email),
                for_update=True,
            )
        created = client is None
        if client is None:
            client = replace(
                validated(rules.client_from_prospect(prospect)), id=new_id(), created_at=now, updated_at=now, version=1
            )
            client_repository.add_client(uow.session, client)
            events.append(convert.client_created(client))

        primary = created or contact_repository.primary_contact(uow.session, client.id) is None
        draft = rules.contact_from_prospect(prospect, client.id, primary)
        contact = None
        if draft is not None:
            contact = contact_rules.new_contact(draft, new_id(), now, client.address.country_code)
            contact_repository.add_contact(uow.session, contact)
            events.append(convert.contact_created(contact))

        after = rules.converted(prospect, client.id, contact.id if contact else "", created, now)
        if not prospect_repository.update_prospect(uow.session, after, prospect.version):
            raise Conflict(f"prospect '{prospect.id}' changed meanwhile: retry", reason="version_mismatch")
        events.append(convert.prospect_converted(after, created, deal))
        uow.add_events(events)
        uow.commit()
        return Conversion(client=client, contact=contact, prospect=after, client_created=created, converted_now=True)


def _first_result(uow: UnitOfWork, prospect: Prospect) -> Conversion:
    """What the conversion of an already converted prospect produced (as the records are now)."""
    client = client_repository.get_client(uow.session, prospect.converted_client_id)
    # Neither can be deleted while the converted prospect refers to it.
    assert client is not None, f"client {prospect.converted_client_id} of converted prospect {prospect.id} is gone"
    contact = None
    if prospect.converted_contact_id:
        contact = contact_repository.get_contact(uow.session, prospect.converted_contact_id)
    created = prospect.converted_client_created
    return Conversion(client=client, contact=contact, prospect=prospect, client_created=created)
