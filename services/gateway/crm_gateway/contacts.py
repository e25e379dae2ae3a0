"""/api/v1/contacts (and /api/v1/clients/<id>/contacts): the people inside client companies
(Contacto). Like clients they are shared: every signed-in user sees them; their owner (or the
owner's manager, or an admin) changes them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.access import ensure_visible
from crm_gateway.api import call
from crm_gateway.clients import CLIENTS, Email, Phones, Short
from crm_gateway.convert import ProtoJson, ProtoPage
from crm_gateway.lists import OPTIONAL_UUID, Filters, ImportQuery, Paging
from crm_gateway.owned import IMPORT_MAX_BYTES, XLSX, Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("contacts", "Contacts", "The people inside client companies (Contacto).")

Role = Literal["decision_maker", "influencer", "user", "other"]
OwnerId = Annotated[str, StringConstraints(min_length=1, max_length=36)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ContactCreate(_Strict):
    """A new contact of a client: a first or last name at least. `owner_id` defaults to the caller."""

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    first_name: Short = ""
    last_name: Short = ""
    job_title: Short = ""
    email: Email = ""
    phones: Phones = []
    decision_role: Role | None = None
    primary: bool = Field(False, description="The client's main contact (the previous one stops being it).")
    owner_id: OwnerId | None = None
    force_duplicate: bool = Field(False, description="Create even when a contact has the same e-mail or phone.")


class ContactPatch(_Strict):
    """The fields to change; the others keep their values."""

    client_id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None = None
    first_name: Short = ""
    last_name: Short = ""
    job_title: Short = ""
    email: Email = ""
    phones: Phones = []
    decision_role: Role | None = None
    primary: bool = False
    owner_id: OwnerId | None = None


class ContactFilters(Filters):
    client_id: Annotated[str, StringConstraints(pattern=OPTIONAL_UUID)] = ""
    decision_role: Role | None = None

    def contact_filters(self) -> dict[str, Any]:
        out = self.rpc_filters()
        out["client_id"] = self.client_id
        if self.decision_role:
            out["decision_role"] = contacts_pb2.DecisionRole.Value(f"DECISION_ROLE_{self.decision_role.upper()}")
        return out


class ContactListQuery(ContactFilters, Paging):
    pass


class ClientContactsQuery(Paging):
    model_config = ConfigDict(extra="forbid")

    include_archived: bool = False


CONTACTS = Collection(
    kind="contacts",
    service="contacts",
    stub=lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"),
    message=contacts_pb2.Contact,
    field="contact",
    get_rpc="GetContact",
    requests=contacts_pb2,
)
ONE = ProtoJson(contacts_pb2.Contact)


@res.route("GET", "/api/v1/contacts", query=ContactListQuery, response=ProtoPage(contacts_pb2.Contact))
def list_contacts(query: ContactListQuery) -> Response:
    """List contacts, oldest first."""
    return CONTACTS.list("ListContacts", "contacts", query.owner_id, **query.contact_filters(), **query.rpc_paging())


@res.route(
    "GET",
    "/api/v1/clients/<id:client_id>/contacts",
    query=ClientContactsQuery,
    response=ProtoPage(contacts_pb2.Contact),
    errors=(404,),
)
def list_client_contacts(client_id: str, query: ClientContactsQuery) -> Response:
    """List one client's contacts."""
    client = call("contacts", CLIENTS.stub().GetClient, contacts_pb2.GetClientRequest(id=client_id)).client
    ensure_visible("clients", client_id, client.owner_id)
    return CONTACTS.list(
        "ListContacts",
        "contacts",
        [],
        client_id=client_id,
        include_archived=query.include_archived,
        **query.rpc_paging(),
    )


@res.route("GET", "/api/v1/contacts:export", query=ContactFilters, content_type="text/csv")
def export_contacts(query: ContactFilters) -> Response:
    """Export contacts as CSV (the same filters as the list)."""
    return CONTACTS.export_csv("ListContacts", "contacts", query.owner_id, **query.contact_filters())


@res.route(
    "POST",
    "/api/v1/contacts:import",
    query=ImportQuery,
    response=ProtoJson(contacts_pb2.ImportRecordsResponse),
    upload_types=("text/csv", XLSX),
    max_body=IMPORT_MAX_BYTES,
)
def import_contacts(query: ImportQuery) -> Response:
    """Import contacts from a CSV or XLSX file (the body), with a per-row report.
    Each row names its client by client_id, or by the client's tax id or e-mail."""
    return CONTACTS.import_file(contacts_pb2.IMPORT_KIND_CONTACTS, query)


@res.route(
    "POST",
    "/api/v1/contacts",
    body=ContactCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_contact(body: ContactCreate) -> Response:
    """Create a contact.
    Duplicates: the same e-mail (case ignored) or any of the same phone numbers as an existing
    contact is a 409 `duplicate_contact` whose `existing_id` names that contact and `field` the value
    taken (`email`, `phones`); send `force_duplicate: true` to create it anyway."""
    return CONTACTS.create("CreateContact", body, lambda i: url_for("contacts.get_contact", contact_id=i))


@res.route("GET", "/api/v1/contacts/<id:contact_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_contact(contact_id: str) -> Response:
    """Get a contact."""
    return CONTACTS.get(contact_id)


@res.route(
    "PATCH",
    "/api/v1/contacts/<id:contact_id>",
    body=ContactPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_contact(contact_id: str, body: ContactPatch) -> Response:
    """Update a contact (its owner, their manager, or an admin)."""
    return CONTACTS.update("UpdateContact", contact_id, body)


@res.route("POST", "/api/v1/contacts/<id:contact_id>:archive", response=ONE, errors=(404,), response_headers=("ETag",))
def archive_contact(contact_id: str) -> Response:
    """Archive a contact: hidden from lists unless include_archived."""
    return CONTACTS.action("ArchiveContact", contact_id)


@res.route("DELETE", "/api/v1/contacts/<id:contact_id>", status=204, errors=(404,))
def delete_contact(contact_id: str) -> Response:
    """Delete a contact that nothing refers to (otherwise archive it)."""
    return CONTACTS.delete("DeleteContact", contact_id)
