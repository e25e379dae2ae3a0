"""Translation between protobuf messages and domain objects (the only place that knows both)."""

from __future__ import annotations

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, events_pb2
from crm_contacts.domain.clients import Client, ClientKind
from crm_contacts.domain.common import Address
from crm_contacts.domain.contacts import Contact, DecisionRole
from crm_contacts.domain.conversion import DealRequest
from crm_contacts.domain.importing import ImportKind
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus
from crm_platform.import_files import FileFormat
from crm_platform.importing import ImportReport
from crm_platform.protoconv import EnumMap

CLIENT_KINDS = EnumMap(
    "client kind",
    {
        ClientKind.COMPANY: contacts_pb2.CLIENT_KIND_COMPANY,
        ClientKind.PERSON: contacts_pb2.CLIENT_KIND_PERSON,
    },
)

PROSPECT_STATUSES = EnumMap(
    "prospect status",
    {
        ProspectStatus.NEW: contacts_pb2.PROSPECT_STATUS_NEW,
        ProspectStatus.CONTACTED: contacts_pb2.PROSPECT_STATUS_CONTACTED,
        ProspectStatus.QUALIFIED: contacts_pb2.PROSPECT_STATUS_QUALIFIED,
        ProspectStatus.CONVERTED: contacts_pb2.PROSPECT_STATUS_CONVERTED,
        ProspectStatus.DISQUALIFIED: contacts_pb2.PROSPECT_STATUS_DISQUALIFIED,
    },
)

PROSPECT_SOURCES = EnumMap(
    "prospect source",
    {
        ProspectSource.WEB: contacts_pb2.PROSPECT_SOURCE_WEB,
        ProspectSource.REFERRAL: contacts_pb2.PROSPECT_SOURCE_REFERRAL,
        ProspectSource.CAMPAIGN: contacts_pb2.PROSPECT_SOURCE_CAMPAIGN,
        ProspectSource.TRADE_FAIR: contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR,
        ProspectSource.ADS: contacts_pb2.PROSPECT_SOURCE_ADS,
        ProspectSource.RD_STATION: contacts_pb2.PROSPECT_SOURCE_RD_STATION,
        ProspectSource.IMPORT: contacts_pb2.PROSPECT_SOURCE_IMPORT,
    },
)

DECISION_ROLES = EnumMap(
    "decision role",
    {
        DecisionRole.DECISION_MAKER: contacts_pb2.DECISION_ROLE_DECISION_MAKER,
        DecisionRole.INFLUENCER: contacts_pb2.DECISION_ROLE_INFLUENCER,
        DecisionRole.USER: contacts_pb2.DECISION_ROLE_USER,
        DecisionRole.OTHER: contacts_pb2.DECISION_ROLE_OTHER,
    },
)


def client_kind_from_proto(value: int, field: str = "kind") -> ClientKind | None:
    return CLIENT_KINDS.from_proto(value, field)


def decision_role_from_proto(value: int, field: str = "decision_role") -> DecisionRole | None:
    return DECISION_ROLES.from_proto(value, field)


def _address_from_proto(msg: contacts_pb2.Address) -> Address:
    return Address(msg.street, msg.city, msg.region, msg.postal_code, msg.country_code)


def _address_to_proto(address: Address) -> contacts_pb2.Address:
    return contacts_pb2.Address(
        street=address.street,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country_code=address.country_code,
    )


def prospect_status_from_proto(value: int, field: str = "status") -> ProspectStatus | None:
    return PROSPECT_STATUSES.from_proto(value, field)


def prospect_source_from_proto(value: int, field: str = "source") -> ProspectSource | None:
    return PROSPECT_SOURCES.from_proto(value, field)


def client_from_proto(msg: contacts_pb2.Client, default_kind: ClientKind | None = ClientKind.COMPANY) -> Client:
    """A draft client; an unspecified kind becomes `default_kind` (None in an update's draft, so
    that naming "kind" without giving one is an error)."""
    kind = CLIENT_KINDS.from_proto(msg.kind, "kind") if msg.kind else default_kind
    return Client(
        id=msg.id,
        kind=kind,
        name=msg.name,
        owner_id=msg.owner_id,
        legal_name=msg.legal_name,
        tax_country=msg.tax_id.country_code,
        tax_id=msg.tax_id.value,
        industry=msg.industry,
        segment_tags=tuple(msg.segment_tags),
        email=msg.email,
        phones=tuple(msg.phones),
        website=msg.website,
        address=_address_from_proto(msg.address),
        source=msg.source,
    )


def client_to_proto(client: Client) -> contacts_pb2.Client:
    assert client.kind is not None, "only a validated client is sent"
    msg = contacts_pb2.Client(
        id=client.id,
        kind=CLIENT_KINDS.to_proto(client.kind),
        name=client.name,
        legal_name=client.legal_name,
        tax_id=contacts_pb2.TaxId(country_code=client.tax_country, value=client.tax_id),
        industry=client.industry,
        segment_tags=list(client.segment_tags),
        email=client.email,
        phones=list(client.phones),
        website=client.website,
        address=_address_to_proto(client.address),
        owner_id=client.owner_id,
        source=client.source,
        archived=client.archived,
        version=client.version,
    )
    if client.created_at:
        msg.create_time.FromDatetime(client.created_at)
    if client.updated_at:
        msg.update_time.FromDatetime(client.updated_at)
    return msg


def prospect_from_proto(msg: contacts_pb2.Prospect) -> Prospect:
    """A draft prospect; output-only fields (conversion ids, times, version) are left out."""
    return Prospect(
        id=msg.id,
        owner_id=msg.owner_id,
        company_name=msg.company_name,
        first_name=msg.first_name,
        last_name=msg.last_name,
        job_title=msg.job_title,
        email=msg.email,
        phones=tuple(msg.phones),
        tax_country=msg.tax_id.country_code,
        tax_id=msg.tax_id.value,
        industry=msg.industry,
        address=_address_from_proto(msg.address),
        source=prospect_source_from_proto(msg.source),
        source_campaign_id=msg.source_campaign_id,
        status=prospect_status_from_proto(msg.status),
        disqualified_reason=msg.disqualified_reason,
    )


def prospect_to_proto(prospect: Prospect) -> contacts_pb2.Prospect:
    assert prospect.status is not None, "only a validated prospect is sent"
    msg = contacts_pb2.Prospect(
        id=prospect.id,
        company_name=prospect.company_name,
        first_name=prospect.first_name,
        last_name=prospect.last_name,
        job_title=prospect.job_title,
        email=prospect.email,
        phones=list(prospect.phones),
        tax_id=contacts_pb2.TaxId(country_code=prospect.tax_country, value=prospect.tax_id),
        industry=prospect.industry,
        address=_address_to_proto(prospect.address),
        source=PROSPECT_SOURCES.to_proto(prospect.source)
        if prospect.source
        else contacts_pb2.PROSPECT_SOURCE_UNSPECIFIED,
        source_campaign_id=prospect.source_campaign_id,
        status=PROSPECT_STATUSES.to_proto(prospect.status),
        disqualified_reason=prospect.disqualified_reason,
        owner_id=prospect.owner_id,
        converted_client_id=prospect.converted_client_id,
        converted_contact_id=prospect.converted_contact_id,
        converted_deal_id=prospect.converted_deal_id,
        archived=prospect.archived,
        version=prospect.version,
    )
    if prospect.created_at:
        msg.create_time.FromDatetime(prospect.created_at)
    if prospect.updated_at:
        msg.update_time.FromDatetime(prospect.updated_at)
    return msg


def contact_from_proto(msg: contacts_pb2.Contact) -> Contact:
    """A draft contact; output-only fields (archived, times, version) are left out."""
    return Contact(
        id=msg.id,
        client_id=msg.client_id,
        owner_id=msg.owner_id,
        first_name=msg.first_name,
        last_name=msg.last_name,
        job_title=msg.job_title,
        email=msg.email,
        phones=tuple(msg.phones),
        decision_role=decision_role_from_proto(msg.decision_role),
        primary=msg.primary,
    )


def contact_to_proto(contact: Contact) -> contacts_pb2.Contact:
    msg = contacts_pb2.Contact(
        id=contact.id,
        client_id=contact.client_id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        job_title=contact.job_title,
        email=contact.email,
        phones=list(contact.phones),
        decision_role=(
            DECISION_ROLES.to_proto(contact.decision_role)
            if contact.decision_role
            else contacts_pb2.DECISION_ROLE_UNSPECIFIED
        ),
        primary=contact.primary,
        owner_id=contact.owner_id,
        archived=contact.archived,
        version=contact.version,
    )
    if contact.created_at:
        msg.create_time.FromDatetime(contact.created_at)
    if contact.updated_at:
        msg.update_time.FromDatetime(contact.updated_at)
    return msg


# --- imports -----------------------------------------------------------------------------------

_IMPORT_KIND_FROM_PROTO: dict[int, ImportKind] = {
    contacts_pb2.IMPORT_KIND_CLIENTS: ImportKind.CLIENTS,
    contacts_pb2.IMPORT_KIND_CONTACTS: ImportKind.CONTACTS,
    contacts_pb2.IMPORT_KIND_PROSPECTS: ImportKind.PROSPECTS,
}
_IMPORT_FORMAT_FROM_PROTO: dict[int, FileFormat] = {
    contacts_pb2.IMPORT_FORMAT_CSV: FileFormat.CSV,
    contacts_pb2.IMPORT_FORMAT_XLSX: FileFormat.XLSX,
}


def import_kind_from_proto(value: int) -> ImportKind | None:
    return _IMPORT_KIND_FROM_PROTO.get(value)


def import_format_from_proto(value: int) -> FileFormat | None:
    return _IMPORT_FORMAT_FROM_PROTO.get(value)


def import_report_to_proto(report: ImportReport, *, dry_run: bool) -> contacts_pb2.ImportRecordsResponse:
    return contacts_pb2.ImportRecordsResponse(
        total_rows=report.total_rows,
        created=report.created,
        duplicates=len(report.duplicates),
        failed=report.failed,
        problems=[
            contacts_pb2.ImportRowProblem(row=p.row, field=p.field, message=p.message) for p in report.listed_problems()
        ],
        duplicate_rows=[
            contacts_pb2.ImportDuplicate(row=d.row, existing_id=d.existing_id, field=d.field) for d in report.duplicates
        ],
        created_ids=[i for i in report.created_ids if i],
        dry_run=dry_run,
        created_rows=report.created_rows,
    )


# --- integration events ------------------------------------------------------------------------


def client_created(client: Client) -> events_pb2.ClientCreated:
    return events_pb2.ClientCreated(client=client_to_proto(client))


def client_updated(client: Client, changed_fields: list[str]) -> events_pb2.ClientUpdated:
    return events_pb2.ClientUpdated(client=client_to_proto(client), changed_fields=changed_fields)


def client_archived(client: Client) -> events_pb2.ClientArchived:
    return events_pb2.ClientArchived(client=client_to_proto(client))


def client_deleted(client_id: str) -> events_pb2.ClientDeleted:
    return events_pb2.ClientDeleted(client_id=client_id)


def contact_created(contact: Contact) -> events_pb2.ContactCreated:
    return events_pb2.ContactCreated(contact=contact_to_proto(contact))


def contact_updated(contact: Contact, changed_fields: list[str]) -> events_pb2.ContactUpdated:
    return events_pb2.ContactUpdated(contact=contact_to_proto(contact), changed_fields=changed_fields)


def contact_archived(contact: Contact) -> events_pb2.ContactArchived:
    return events_pb2.ContactArchived(contact=contact_to_proto(contact))


def contact_deleted(contact_id: str, client_id: str) -> events_pb2.ContactDeleted:
    return events_pb2.ContactDeleted(contact_id=contact_id, client_id=client_id)


def prospect_created(prospect: Prospect) -> events_pb2.ProspectCreated:
    return events_pb2.ProspectCreated(prospect=prospect_to_proto(prospect))


def prospect_updated(prospect: Prospect, changed_fields: list[str]) -> events_pb2.ProspectUpdated:
    return events_pb2.ProspectUpdated(prospect=prospect_to_proto(prospect), changed_fields=changed_fields)


def prospect_archived(prospect: Prospect) -> events_pb2.ProspectArchived:
    return events_pb2.ProspectArchived(prospect=prospect_to_proto(prospect))


def prospect_deleted(prospect_id: str) -> events_pb2.ProspectDeleted:
    return events_pb2.ProspectDeleted(prospect_id=prospect_id)


def prospect_converted(prospect: Prospect, client_created: bool, deal: DealRequest) -> events_pb2.ProspectConverted:
    event = events_pb2.ProspectConverted(
        prospect=prospect_to_proto(prospect),
        client_id=prospect.converted_client_id,
        contact_id=prospect.converted_contact_id,
        client_created=client_created,
        open_deal=deal.open_deal,
        deal_title=deal.title,
    )
    if deal.amount is not None:
        event.deal_amount.CopyFrom(types_pb2.Money(currency_code=deal.currency, amount=format(deal.amount, "f")))
    return event
