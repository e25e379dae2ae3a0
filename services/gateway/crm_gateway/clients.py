"""/api/v1/clients: the HTTP face of the contacts service's clients (Cliente). Clients are shared:
every signed-in user sees them; their owner (or the owner's manager, or an admin) changes them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.convert import ProtoJson, ProtoPage
from crm_gateway.lists import Filters, ImportQuery, Paging
from crm_gateway.owned import IMPORT_MAX_BYTES, XLSX, Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("clients", "Clients", "Companies and people that buy (Cliente).")

Short = Annotated[str, StringConstraints(max_length=200)]
Text = Annotated[str, StringConstraints(max_length=500)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Email = Annotated[str, StringConstraints(max_length=320)]
Phones = Annotated[list[Annotated[str, StringConstraints(max_length=40)]], Field(max_length=10)]
Tags = Annotated[list[Short], Field(max_length=50)]


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
    """A new client. `owner_id` defaults to the caller."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    owner_id: Id | None = None
    kind: Literal["company", "person"] = "company"
    legal_name: Text = ""
    tax_id: TaxIdIn | None = None
    industry: Text = ""
    segment_tags: Tags = []
    email: Email = ""
    phones: Phones = []
    website: Text = ""
    address: AddressIn | None = None
    source: Text = ""
    force_duplicate: bool = Field(False, description="Create even when a client with the same e-mail or tax id exists.")


class ClientPatch(_Strict):
    """The fields to change; the others keep their values."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    owner_id: Id | None = None
    kind: Literal["company", "person"] = "company"
    legal_name: Text = ""
    tax_id: TaxIdIn | None = None
    industry: Text = ""
    segment_tags: Tags = []
    email: Email = ""
    phones: Phones = []
    website: Text = ""
    address: AddressIn | None = None
    source: Text = ""


class ClientFilters(Filters):
    segment_tag: Short = ""
    city: Short = ""
    country_code: Annotated[str, StringConstraints(max_length=2)] = ""
    industry: Short = ""
    source: Short = ""
    kind: Literal["company", "person"] | None = None

    def client_filters(self) -> dict[str, Any]:
        out = self.rpc_filters()
        out.update(
            segment_tag=self.segment_tag,
            city=self.city,
            country_code=self.country_code,
            industry=self.industry,
            source=self.source,
        )
        if self.kind:
            out["kind"] = contacts_pb2.ClientKind.Value(f"CLIENT_KIND_{self.kind.upper()}")
        return out


class ClientListQuery(ClientFilters, Paging):
    pass


CLIENTS = Collection(
    kind="clients",
    service="contacts",
    stub=lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"),
    message=contacts_pb2.Client,
    field="client",
    get_rpc="GetClient",
    requests=contacts_pb2,
)
ONE = ProtoJson(contacts_pb2.Client)


@res.route("GET", "/api/v1/clients", query=ClientListQuery, response=ProtoPage(contacts_pb2.Client))
def list_clients(query: ClientListQuery) -> Response:
    """List clients, oldest first."""
    return CLIENTS.list("ListClients", "clients", query.owner_id, **query.client_filters(), **query.rpc_paging())


@res.route("GET", "/api/v1/clients:export", query=ClientFilters, content_type="text/csv")
def export_clients(query: ClientFilters) -> Response:
    """Export clients as CSV: every client the same filters would list (streamed)."""
    return CLIENTS.export_csv("ListClients", "clients", query.owner_id, **query.client_filters())


@res.route(
    "POST",
    "/api/v1/clients:import",
    query=ImportQuery,
    response=ProtoJson(contacts_pb2.ImportRecordsResponse),
    upload_types=("text/csv", XLSX),
    max_body=IMPORT_MAX_BYTES,
)
def import_clients(query: ImportQuery) -> Response:
    """Import clients from a CSV or XLSX file (the body).
    Valid rows land; each invalid row is reported with its row number, field and problem; rows
    duplicating an existing client (e-mail, phone, tax id) are skipped and listed, so importing the
    same file again adds nothing. Column names may be in Spanish or English."""
    return CLIENTS.import_file(contacts_pb2.IMPORT_KIND_CLIENTS, query)


@res.route(
    "POST",
    "/api/v1/clients",
    body=ClientCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_client(body: ClientCreate) -> Response:
    """Create a client.
    Duplicates: a client with the same e-mail (case ignored), any of the same phone numbers (in
    E.164 form) or the same tax id (in its normal form) as an existing client is a 409
    `duplicate_client` whose `existing_id` names that client and `field` the value taken (`email`,
    `phones`, `tax_id`); send `force_duplicate: true` to create it anyway."""
    return CLIENTS.create("CreateClient", body, lambda i: url_for("clients.get_client", client_id=i))


@res.route("GET", "/api/v1/clients/<id:client_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_client(client_id: str) -> Response:
    """Get a client."""
    return CLIENTS.get(client_id)


@res.route(
    "PATCH",
    "/api/v1/clients/<id:client_id>",
    body=ClientPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_client(client_id: str, body: ClientPatch) -> Response:
    """Update a client (its owner, their manager, or an admin)."""
    return CLIENTS.update("UpdateClient", client_id, body)


@res.route("POST", "/api/v1/clients/<id:client_id>:archive", response=ONE, errors=(404,), response_headers=("ETag",))
def archive_client(client_id: str) -> Response:
    """Archive a client: hidden from lists unless include_archived; its history stays."""
    return CLIENTS.action("ArchiveClient", client_id)


@res.route("DELETE", "/api/v1/clients/<id:client_id>", status=204, errors=(404,))
def delete_client(client_id: str) -> Response:
    """Delete a client that nothing refers to (otherwise 400 client_in_use: archive it instead)."""
    return CLIENTS.delete("DeleteClient", client_id)
