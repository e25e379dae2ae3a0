"""/api/v1/clients: the HTTP face of the contacts service's clients (Cliente). Clients are shared:
every signed-in user sees them; their owner (or the owner's manager, or an admin) changes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import grpc
from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.access import ensure_visible, owner_filter
from crm_gateway.api import UpstreamError, call, etag, respond, start_call
from crm_gateway.convert import ProtoJson, ProtoPage, page, to_json
from crm_gateway.lists import Filters, ImportQuery, Paging
from crm_gateway.owned import IMPORT_MAX_BYTES, XLSX, Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub
from crm_platform.ids import is_valid_id

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


# --- a client with its related records, in one call ----------------------------------------------

SUMMARY_MAX_PAGE_SIZE = 100
_REF = "#/components/schemas/{model}"
# A related list's service that did not answer (503/504 on the list itself): the summary still
# answers, with that list null and named in `unavailable`.
_UNAVAILABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
RelatedKind = Literal["contacts", "deals", "quotes", "activities"]


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[
        int,
        Field(
            ge=1,
            le=SUMMARY_MAX_PAGE_SIZE,
            description="How many of each related kind: the first page of each list, in the list's own order.",
        ),
    ] = 20


_RELATED_MESSAGES = {"contacts": "Contact", "deals": "Deal", "quotes": "Quote", "activities": "Activity"}


def _summary_schema(schema: dict[str, Any]) -> None:
    """The record and each related list as the document's own schemas name them (the messages'
    schemas, which pydantic does not know: filled in once it has drawn the rest)."""
    props = schema["properties"]
    props["client"] = {"$ref": _REF.format(model="Client")}
    for kind, message in _RELATED_MESSAGES.items():
        page_schema = {
            "type": "object",
            "required": ["items", "next_page_token"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": _REF.format(model=message)}},
                "next_page_token": {
                    "type": "string",
                    "description": f"Not empty when there are more: pass it as page_token to GET /api/v1/{kind} "
                    "with the same client_id and page_size for the next page.",
                },
            },
        }
        props[kind] = {
            "description": f"The first page of GET /api/v1/{kind}?client_id=... as the caller would be "
            "answered; null when its service did not answer (see unavailable).",
            "anyOf": [page_schema, {"type": "null"}],
        }


class ClientSummary(BaseModel):
    """A client's record page in one answer."""

    model_config = ConfigDict(json_schema_extra=_summary_schema)

    client: dict[str, Any]
    contacts: dict[str, Any] | None
    deals: dict[str, Any] | None
    quotes: dict[str, Any] | None
    activities: dict[str, Any] | None
    unavailable: list[RelatedKind] = Field(
        description="The related lists whose service did not answer (503/504): null above, the rest as usual."
    )


@res.route(
    "GET",
    "/api/v1/clients/<id:client_id>/summary",
    query=SummaryQuery,
    response=ClientSummary,
    errors=(404,),
    response_headers=("ETag",),
)
def client_summary(client_id: str, query: SummaryQuery) -> Response:
    """Get a client with the first of its contacts, deals, quotes and activities, in one call.
    Each related list is exactly the first page that its own list (`GET /api/v1/contacts`,
    `/deals`, `/quotes`, `/activities` with `client_id` and `page_size`) answers the caller, in
    that list's order and with its `next_page_token`; the services are asked at once. A related
    list whose service does not answer is null and named in `unavailable`, and the client still
    comes back; the client itself not found (or not an id) is a 404, as on `GET /api/v1/clients/{client_id}`."""
    if not is_valid_id(client_id):
        CLIENTS.fetch(client_id)  # answers (raises) exactly as GET /api/v1/clients/{client_id} does
    waiting = _start_lists(client_id, query.page_size)
    record = call("contacts", CLIENTS.stub().GetClient, contacts_pb2.GetClientRequest(id=client_id)).client
    ensure_visible("clients", client_id, record.owner_id)
    body: dict[str, Any] = {"client": to_json(record)}
    unavailable: list[str] = []
    for kind, result in waiting.items():
        try:
            body[kind] = result()
        except UpstreamError as exc:
            if exc.info.code not in _UNAVAILABLE:
                raise
            body[kind] = None
            unavailable.append(kind)
    body["unavailable"] = unavailable
    return respond(body, headers=etag(record.version))


def _start_lists(client_id: str, n: int) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each related list started as its own route makes it for `?client_id=&page_size=n` (the same
    query model, so the same defaults, and the owners narrowed to what the caller may see); each
    value waits for its page. The route modules are read here, not at import: they import this one."""
    from crm_gateway import activities, contacts, deals, quotes

    asked = {"client_id": client_id, "page_size": n}
    contact_query = contacts.ContactListQuery.model_validate(asked)
    deal_query = deals.DealListQuery.model_validate(asked)
    lists: list[tuple[str, Collection, dict[str, Any]]] = [
        ("contacts", contacts.CONTACTS, {**contact_query.contact_filters(), **contact_query.rpc_paging()}),
        ("deals", deals.DEALS, {**deal_query.deal_filters(), "page_size": n}),
        ("quotes", quotes.QUOTES, quotes.QuoteFilters.model_validate(asked).rpc_filters()),
        (
            "activities",
            activities.ACTIVITIES,
            activities.ActivityListQuery.model_validate(asked).rpc_filters(),
        ),
    ]
    out: dict[str, Callable[[], dict[str, Any]]] = {}
    for plural, coll, filters in lists:
        owners = owner_filter(coll.kind, [])
        if owners is None:  # nothing the caller may see can match, as the list route answers
            out[plural] = lambda: page([], "")
            continue
        rpc = f"List{plural.capitalize()}"
        req = getattr(coll.requests, f"{rpc}Request")(owner_ids=owners, **filters)
        out[plural] = _page_of(start_call(coll.service, getattr(coll.stub(), rpc), req), plural)
    return out


def _page_of(result: Callable[[], Any], plural: str) -> Callable[[], dict[str, Any]]:
    def read() -> dict[str, Any]:
        res = result()
        return page(list(getattr(res, plural)), res.next_page_token)

    return read
