"""/api/v1/prospects: potential clients (Prospecto). A rep sees and works their own; a manager
their team's; an admin all."""

from __future__ import annotations

from typing import Annotated, Literal

from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.clients import AddressIn, Email, Id, Phones, Short, TaxIdIn, Text
from crm_gateway.convert import ProtoJson, ProtoPage
from crm_gateway.owned import Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("prospects", "Prospects", "Potential clients found by prospecting (Prospecto).")

Source = Literal["web", "referral", "campaign", "trade_fair", "ads", "rd_station", "import"]
Status = Literal["new", "contacted", "qualified", "converted", "disqualified"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ProspectCreate(_Strict):
    """A new prospect: a company name or a person's name at least. `owner_id` defaults to the caller."""

    company_name: Short = ""
    first_name: Short = ""
    last_name: Short = ""
    job_title: Short = ""
    email: Email = ""
    phones: Phones = []
    tax_id: TaxIdIn | None = None
    industry: Text = ""
    address: AddressIn | None = None
    source: Source | None = None
    source_campaign_id: Annotated[str, StringConstraints(max_length=36)] = ""
    owner_id: Id | None = None
    force_duplicate: bool = Field(
        False, description="Create even when a prospect with the same e-mail or phone exists."
    )


class ProspectPatch(_Strict):
    """The fields to change. Status moves new → contacted → qualified, or to disqualified (with a
    reason), and back to new; converted only through :convert."""

    company_name: Short = ""
    first_name: Short = ""
    last_name: Short = ""
    job_title: Short = ""
    email: Email = ""
    phones: Phones = []
    tax_id: TaxIdIn | None = None
    industry: Text = ""
    address: AddressIn | None = None
    source: Source | None = None
    source_campaign_id: Annotated[str, StringConstraints(max_length=36)] = ""
    status: Status = "new"
    disqualified_reason: Text = ""
    owner_id: Id | None = None


class ProspectListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: Annotated[str, StringConstraints(max_length=2000)] = ""
    q: Annotated[str, StringConstraints(max_length=200), Field(description="Text search: names, company, e-mail.")] = ""
    owner_id: Annotated[list[Annotated[str, StringConstraints(max_length=36)]], Field(max_length=100)] = []
    status: Status | None = None
    source: Source | None = None
    source_campaign_id: Annotated[str, StringConstraints(max_length=36)] = ""


PROSPECTS = Collection(
    kind="prospects",
    service="contacts",
    stub=lambda: stub(contacts_pb2_grpc.ContactsServiceStub, "contacts"),
    message=contacts_pb2.Prospect,
    field="prospect",
    get_rpc="GetProspect",
    requests=contacts_pb2,
)
ONE = ProtoJson(contacts_pb2.Prospect)


def _enum(enum: type, prefix: str, word: str | None) -> int:
    return 0 if word is None else enum.Value(f"{prefix}{word.upper()}")  # type: ignore[attr-defined]


@res.route("GET", "/api/v1/prospects", query=ProspectListQuery, response=ProtoPage(contacts_pb2.Prospect))
def list_prospects(query: ProspectListQuery) -> Response:
    """List the prospects the caller may see, oldest first."""
    return PROSPECTS.list(
        "ListProspects",
        "prospects",
        query.owner_id,
        page_size=query.page_size,
        page_token=query.page_token,
        query=query.q,
        status=_enum(contacts_pb2.ProspectStatus, "PROSPECT_STATUS_", query.status),
        source=_enum(contacts_pb2.ProspectSource, "PROSPECT_SOURCE_", query.source),
        source_campaign_id=query.source_campaign_id,
    )


@res.route(
    "POST",
    "/api/v1/prospects",
    body=ProspectCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_prospect(body: ProspectCreate) -> Response:
    """Create a prospect.
    The same e-mail or phone as an existing prospect is a 409 naming it, unless force_duplicate."""
    return PROSPECTS.create("CreateProspect", body, lambda i: url_for("prospects.get_prospect", prospect_id=i))


@res.route("GET", "/api/v1/prospects/<id:prospect_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_prospect(prospect_id: str) -> Response:
    """Get a prospect."""
    return PROSPECTS.get(prospect_id)


@res.route(
    "PATCH",
    "/api/v1/prospects/<id:prospect_id>",
    body=ProspectPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_prospect(prospect_id: str, body: ProspectPatch) -> Response:
    """Update a prospect (its owner, their manager, or an admin)."""
    return PROSPECTS.update("UpdateProspect", prospect_id, body)


@res.route("DELETE", "/api/v1/prospects/<id:prospect_id>", status=204, errors=(404,))
def delete_prospect(prospect_id: str) -> Response:
    """Delete a prospect that was not converted."""
    return PROSPECTS.delete("DeleteProspect", prospect_id)
