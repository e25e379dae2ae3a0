"""/api/v1/clients: the HTTP face of the contacts service's clients."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, Response, request, url_for
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.api import call, parse_body, parse_query, respond
from crm_platform.grpc_client import stub

bp = Blueprint("clients", __name__)

Short = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TaxIdIn(_Strict):
    country_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
    value: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class AddressIn(_Strict):
    street: Text = ""
    city: Short = ""
    region: Short = ""
    postal_code: Annotated[str, StringConstraints(max_length=20)] = ""
    country_code: Annotated[str, StringConstraints(pattern=r"^([A-Za-z]{2})?$")] = ""


class ClientCreate(_Strict):
    """A new client (Cliente): a company or a person that buys."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    owner_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    kind: Literal["company", "person"] = "company"
    legal_name: Text = ""
    tax_id: TaxIdIn | None = None
    industry: Text = ""
    segment_tags: Annotated[list[Short], Field(max_length=50)] = []
    email: Annotated[str, StringConstraints(max_length=320)] = ""
    phones: Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Field(max_length=10)] = []
    website: Text = ""
    address: AddressIn | None = None
    source: Text = ""
    force_duplicate: bool = False


class ClientListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[int, Field(ge=0, le=10_000)] = 0
    page_token: Annotated[str, StringConstraints(max_length=2000)] = ""
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    owner_id: Short = ""
    segment_tag: Short = ""
    city: Short = ""
    country_code: Annotated[str, StringConstraints(max_length=2)] = ""
    include_archived: bool = False


_KIND_NAMES = {
    contacts_pb2.CLIENT_KIND_COMPANY: "company",
    contacts_pb2.CLIENT_KIND_PERSON: "person",
}
_KIND_VALUES = {v: k for k, v in _KIND_NAMES.items()}


def client_json(msg: contacts_pb2.Client) -> dict[str, Any]:
    body = MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    body["kind"] = _KIND_NAMES.get(msg.kind, "company")
    body["version"] = msg.version
    return body


def _contacts() -> contacts_pb2_grpc.ContactsServiceStub:
    return stub(contacts_pb2_grpc.ContactsServiceStub, "contacts")


@bp.post("/api/v1/clients")
def create_client() -> Response:
    body = parse_body(ClientCreate)
    msg = contacts_pb2.Client(
        kind=_KIND_VALUES[body.kind],
        name=body.name,
        owner_id=body.owner_id,
        legal_name=body.legal_name,
        industry=body.industry,
        segment_tags=body.segment_tags,
        email=body.email,
        phones=body.phones,
        website=body.website,
        source=body.source,
    )
    if body.tax_id:
        msg.tax_id.country_code = body.tax_id.country_code.upper()
        msg.tax_id.value = body.tax_id.value
    if body.address:
        msg.address.CopyFrom(contacts_pb2.Address(**body.address.model_dump()))
    req = contacts_pb2.CreateClientRequest(
        client=msg,
        request_id=request.headers.get("Idempotency-Key", "")[:100],
        force_duplicate=body.force_duplicate,
    )
    res = call("contacts", _contacts().CreateClient, req)
    location = url_for("clients.get_client", client_id=res.client.id)
    return respond(client_json(res.client), 201, {"Location": location})


@bp.get("/api/v1/clients/<client_id>")
def get_client(client_id: str) -> Response:
    res = call("contacts", _contacts().GetClient, contacts_pb2.GetClientRequest(id=client_id))
    return respond(client_json(res.client), headers={"ETag": f'"{res.client.version}"'})


@bp.get("/api/v1/clients")
def list_clients() -> Response:
    q = parse_query(ClientListQuery)
    res = call(
        "contacts",
        _contacts().ListClients,
        contacts_pb2.ListClientsRequest(
            page_size=q.page_size,
            page_token=q.page_token,
            query=q.q,
            owner_id=q.owner_id,
            segment_tag=q.segment_tag,
            city=q.city,
            country_code=q.country_code,
            include_archived=q.include_archived,
        ),
    )
    return respond({"items": [client_json(c) for c in res.clients], "next_page_token": res.next_page_token})
