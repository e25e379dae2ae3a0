"""Translation between protobuf messages and domain objects (the only place that knows both)."""

from __future__ import annotations

from crm.contacts.v1 import contacts_pb2
from crm_contacts.domain.clients import Address, Client, ClientKind
from crm_platform.errors import InvalidArgument

_KIND_TO_PROTO = {
    ClientKind.COMPANY: contacts_pb2.CLIENT_KIND_COMPANY,
    ClientKind.PERSON: contacts_pb2.CLIENT_KIND_PERSON,
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}


def client_from_proto(msg: contacts_pb2.Client) -> Client:
    kind = _KIND_FROM_PROTO.get(msg.kind) if msg.kind else ClientKind.COMPANY
    if kind is None:
        raise InvalidArgument.field("kind", f"unknown client kind {msg.kind}")
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
        address=Address(
            msg.address.street, msg.address.city, msg.address.region, msg.address.postal_code, msg.address.country_code
        ),
        source=msg.source,
    )


def client_to_proto(client: Client) -> contacts_pb2.Client:
    msg = contacts_pb2.Client(
        id=client.id,
        kind=_KIND_TO_PROTO[client.kind],
        name=client.name,
        legal_name=client.legal_name,
        tax_id=contacts_pb2.TaxId(country_code=client.tax_country, value=client.tax_id),
        industry=client.industry,
        segment_tags=list(client.segment_tags),
        email=client.email,
        phones=list(client.phones),
        website=client.website,
        address=contacts_pb2.Address(
            street=client.address.street,
            city=client.address.city,
            region=client.address.region,
            postal_code=client.address.postal_code,
            country_code=client.address.country_code,
        ),
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
