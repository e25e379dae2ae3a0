"""/api/v1/prospects: potential clients (Prospecto). A rep sees and works their own; a manager
their team's; an admin all."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm_gateway.activities import check_campaign
from crm_gateway.api import call, respond
from crm_gateway.clients import AddressIn, Email, Id, Phones, Short, TaxIdIn, Text
from crm_gateway.convert import ProtoJson, ProtoPage, to_json
from crm_gateway.lists import OPTIONAL_UUID, Filters, ImportQuery, Paging
from crm_gateway.money import MoneyIn
from crm_gateway.owned import IMPORT_MAX_BYTES, XLSX, Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("prospects", "Prospects", "Potential clients found by prospecting (Prospecto).")

Source = Literal["web", "referral", "campaign", "trade_fair", "ads", "rd_station", "import"]
Status = Literal["new", "contacted", "qualified", "converted", "disqualified"]


def _enum(enum: Any, prefix: str, word: str | None) -> int:
    return 0 if word is None else int(enum.Value(f"{prefix}{word.upper()}"))


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


class ProspectFilters(Filters):
    status: Status | None = None
    source: Source | None = None
    source_campaign_id: Annotated[str, StringConstraints(max_length=36)] = ""
    city: Short = ""
    country_code: Annotated[str, StringConstraints(max_length=2)] = ""
    industry: Short = ""

    def prospect_filters(self) -> dict[str, Any]:
        out = self.rpc_filters()
        out.update(
            status=_enum(contacts_pb2.ProspectStatus, "PROSPECT_STATUS_", self.status),
            source=_enum(contacts_pb2.ProspectSource, "PROSPECT_SOURCE_", self.source),
            source_campaign_id=self.source_campaign_id,
            city=self.city,
            country_code=self.country_code,
            industry=self.industry,
        )
        return out


class ProspectListQuery(ProspectFilters, Paging):
    pass


class ConvertIn(_Strict):
    """How to convert: reuse a matching client (same tax id, or same company e-mail domain) instead
    of creating one; ask for a deal to be opened for the client."""

    reuse_matching_client: bool = False
    open_deal: bool = False
    deal_title: Annotated[str, StringConstraints(max_length=200)] = ""
    deal_amount: MoneyIn | None = None


class ProspectImportQuery(ImportQuery):
    default_source: Source | None = Field(None, description="Source of rows naming none (import when unset).")
    source_campaign_id: Annotated[str, StringConstraints(pattern=OPTIONAL_UUID)] = ""


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
ConversionOut = ProtoJson(contacts_pb2.ConvertProspectResponse)


@res.route("GET", "/api/v1/prospects", query=ProspectListQuery, response=ProtoPage(contacts_pb2.Prospect))
def list_prospects(query: ProspectListQuery) -> Response:
    """List the prospects the caller may see, oldest first."""
    return PROSPECTS.list(
        "ListProspects", "prospects", query.owner_id, **query.prospect_filters(), **query.rpc_paging()
    )


@res.route("GET", "/api/v1/prospects:export", query=ProspectFilters, content_type="text/csv")
def export_prospects(query: ProspectFilters) -> Response:
    """Export the prospects the caller may see as CSV (the same filters as the list)."""
    return PROSPECTS.export_csv("ListProspects", "prospects", query.owner_id, **query.prospect_filters())


@res.route(
    "POST",
    "/api/v1/prospects:import",
    query=ProspectImportQuery,
    response=ProtoJson(contacts_pb2.ImportRecordsResponse),
    upload_types=("text/csv", XLSX),
    max_body=IMPORT_MAX_BYTES,
)
def import_prospects(query: ProspectImportQuery) -> Response:
    """Import prospects from a CSV or XLSX file (the body), with a per-row report.
    Rows duplicating a prospect (e-mail, phone) are skipped and listed; importing again adds nothing."""
    return PROSPECTS.import_file(
        contacts_pb2.IMPORT_KIND_PROSPECTS,
        query,
        default_source=_enum(contacts_pb2.ProspectSource, "PROSPECT_SOURCE_", query.default_source),
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
    Duplicates: the same e-mail (case ignored) or any of the same phone numbers as an existing
    prospect is a 409 `duplicate_prospect` whose `existing_id` names that prospect and `field` the
    value taken (`email`, `phones`); send `force_duplicate: true` to create it anyway. A source
    campaign the caller may not see answers as an unknown one (400 naming source_campaign_id)."""
    check_campaign(body.source_campaign_id, "source_campaign_id")
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
    """Update a prospect (its owner, their manager, or an admin).
    A source campaign named anew is checked as on create."""
    return PROSPECTS.update("UpdateProspect", prospect_id, body, _source_campaign_checked)


def _source_campaign_checked(current: Any, changed: dict[str, Any]) -> dict[str, Any]:
    """Only a campaign named anew: a prospect may keep the campaign its lead came from."""
    if changed.get("source_campaign_id", current.source_campaign_id) != current.source_campaign_id:
        check_campaign(changed["source_campaign_id"], "source_campaign_id")
    return {}


@res.route("DELETE", "/api/v1/prospects/<id:prospect_id>", status=204, errors=(404,))
def delete_prospect(prospect_id: str) -> Response:
    """Delete a prospect that was not converted."""
    return PROSPECTS.delete("DeleteProspect", prospect_id)


@res.route(
    "POST", "/api/v1/prospects/<id:prospect_id>:archive", response=ONE, errors=(404,), response_headers=("ETag",)
)
def archive_prospect(prospect_id: str) -> Response:
    """Archive a prospect: hidden from lists unless include_archived."""
    return PROSPECTS.action("ArchiveProspect", prospect_id)


@res.route(
    "POST",
    "/api/v1/prospects/<id:prospect_id>:convert",
    body=ConvertIn,
    response=ConversionOut,
    errors=(404,),
)
def convert_prospect(prospect_id: str, body: ConvertIn) -> Response:
    """Convert a prospect into a client and its contact, exactly once.
    Converting again returns the first result and creates nothing more: `converted_now` says
    whether this call converted it (of two racing calls exactly one answers true), and
    `client_created` whether the conversion created the client (false: it reused a matching one).
    With open_deal the deals service opens a deal for the new client."""
    PROSPECTS.fetch(prospect_id, for_change=True)
    req = contacts_pb2.ConvertProspectRequest(
        prospect_id=prospect_id,
        reuse_matching_client=body.reuse_matching_client,
        open_deal=body.open_deal,
        deal_title=body.deal_title,
    )
    if body.deal_amount is not None:
        req.deal_amount.amount = body.deal_amount.amount
        req.deal_amount.currency_code = body.deal_amount.currency_code
    res = call("contacts", PROSPECTS.stub().ConvertProspect, req)
    return respond(to_json(res))
