"""Translation between protobuf messages and domain objects (the only place that knows both)."""

from __future__ import annotations

from crm.contacts.v1 import contacts_pb2
from crm_contacts.domain.clients import Client, ClientKind
from crm_contacts.domain.common import Address
from crm_contacts.domain.contacts import Contact, DecisionRole
from crm_contacts.domain.prospects import Prospect, ProspectSource, ProspectStatus
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
