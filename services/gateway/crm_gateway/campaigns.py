"""/api/v1/campaigns: marketing and sales campaigns (Campaña) aimed at a target segment — mailings,
telemarketing call lists, social ads / RD Station leads and trade fairs. Campaigns are owned
records: a rep sees and works their own, a manager their team's, an admin all. Launching,
completing and cancelling are custom actions (`:launch`, `:complete`, `:cancel`) that take
If-Match; members, results, leads, spend, mailings and calls hang under a campaign.

A campaign's members show its target's names, e-mails and phones to whoever may read the campaign,
so a target never reaches beyond what the campaign's **owner** may see: their own prospects (a
rep), their teams' (a manager), all (an admin); clients and contacts are readable by everyone.
The gateway sends the owner's scope with create, update and launch, and the campaigns service
enforces it: a prospects target naming an owner outside it is a 400 naming
campaign.target.owner_ids[i]; a launch narrows the segment to it. It is the owner's scope, not the
caller's: a manager launching a rep's campaign gets the rep's prospects only, because the rep will
read the members.

A rep given members of someone else's call list works them without seeing the rest: the campaign
reads for them (without its webhook secret, which only those who may change the campaign see),
its members list shows only their own members, and they log calls to those members only
(`?call_lists=true` lists such campaigns)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask import Response, request, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import campaigns_pb2_grpc
from crm.common.v1 import types_pb2
from crm_gateway.access import (
    assignable_owner,
    authenticator,
    change_scope,
    not_found,
    owner_filter,
    principal,
    read_scope,
)
from crm_gateway.api import ProblemError, call, check_version, etag, idempotency_key, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, enum_member, enum_value, from_json, page, to_json
from crm_gateway.lists import UUID_PATTERN, Id, PageToken
from crm_gateway.money import MoneyIn
from crm_gateway.owned import IMPORT_DEADLINE_SECONDS, IMPORT_MAX_BYTES, XLSX, Collection
from crm_gateway.routing import CHANGE, Resource
from crm_platform.grpc_client import stub

res = Resource(
    "campaigns",
    "Campaigns",
    "Marketing and sales campaigns (Campaña): mailings, call lists, ads and RD Station leads, trade fairs.",
)

OptionalId = Annotated[str, StringConstraints(pattern=UUID_PATTERN.replace("^", "^(").replace("$", ")?$"))]
Day = Annotated[date, Field(strict=False)]
Instant = Annotated[datetime, Field(strict=False)]
Short = Annotated[str, StringConstraints(max_length=200)]
Values = Annotated[list[Short], Field(max_length=100)]
CampaignType = Literal["mailing", "telemarketing", "social_ads", "trade_fair"]
CampaignStatus = Literal["draft", "scheduled", "running", "completed", "cancelled"]
MemberStatus = Literal[
    "pending", "sent", "bounced", "opened", "clicked", "unsubscribed", "called", "converted", "skipped"
]
Outcome = Literal["no_answer", "call_back", "not_interested", "interested", "meeting_set"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TargetIn(_Strict):
    """Which records the campaign is aimed at: filters of different kinds combine with AND, the
    values of one filter with OR; an empty filter does not filter."""

    kind: Literal["clients", "contacts", "prospects"] | None = None
    segment_tags: Values = []
    industries: Values = []
    cities: Values = []
    country_codes: Values = []
    owner_ids: Annotated[list[Id], Field(max_length=100)] = []
    prospect_statuses: Values = Field([], description="crm.contacts.v1.ProspectStatus names, e.g. PROSPECT_STATUS_NEW.")
    prospect_sources: Values = Field([], description="crm.contacts.v1.ProspectSource names, e.g. PROSPECT_SOURCE_ADS.")


class MailingIn(_Strict):
    """The message; subject and bodies may use merge fields: {{ first_name }}, {{ last_name }},
    {{ name }}, {{ client_name }}, {{ email }}, {{ campaign_name }}, {{ unsubscribe_url }}."""

    subject: Annotated[str, StringConstraints(max_length=300)] = ""
    html_body: Annotated[str, StringConstraints(max_length=5000)] = ""
    text_body: Annotated[str, StringConstraints(max_length=5000)] = ""
    provider: Literal["smtp", "mailchimp"] | None = None
    from_name: Short = ""
    from_email: Short = ""
    reply_to_email: Short = ""


class CampaignCreate(_Strict):
    """A new draft campaign; `owner_id` defaults to the caller, the budget to zero in the
    service's default currency."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: CampaignType
    owner_id: Id | None = None
    budget: MoneyIn | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    target: TargetIn | None = None
    mailing: MailingIn | None = None
    external_id: Short = ""


class CampaignPatch(_Strict):
    """The fields to change (type and target only while a draft; status through the actions)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    type: CampaignType | None = None
    owner_id: Id | None = None
    budget: MoneyIn | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    target: TargetIn | None = None
    mailing: MailingIn | None = None
    external_id: Short | None = None


class CampaignListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Search in names and descriptions.")] = ""
    owner_id: Annotated[list[Id], Field(max_length=100, description="Repeat for several owners.")] = []
    type: CampaignType | None = None
    status: CampaignStatus | None = None
    active_on: date | None = Field(None, description="Campaigns running on this day (YYYY-MM-DD).")
    call_lists: bool = Field(
        False,
        description="Only the campaigns whose call lists give the caller members (even when another user owns them).",
    )
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""


class MemberListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200)] = ""
    status: MemberStatus | None = None
    assigned_rep_id: OptionalId = ""
    last_call_outcome: Outcome | None = None
    call_back_before: datetime | None = Field(None, description="Members to call back before this instant.")
    page_size: Annotated[int, Field(ge=0, le=10_000)] = 0
    page_token: PageToken = ""


class LaunchIn(_Strict):
    rep_ids: Annotated[
        list[Id], Field(max_length=200, description="Telemarketing: the reps the call list is spread over.")
    ] = []


class CancelIn(_Strict):
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class Empty(_Strict):
    pass


class TestMailIn(_Strict):
    emails: Annotated[list[Short], Field(min_length=1, max_length=10)]


class LeadIn(_Strict):
    company_name: Short = ""
    first_name: Short = ""
    last_name: Short = ""
    job_title: Short = ""
    email: Short = ""
    phone: Annotated[str, StringConstraints(max_length=50)] = ""
    city: Short = ""
    country_code: Annotated[str, StringConstraints(max_length=2)] = ""
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    source: Literal["trade_fair", "google_ads", "rd_station", "web_form", "manual"] = "manual"
    external_id: Short = ""


class LeadCapture(_Strict):
    lead: LeadIn
    owner_id: Id | None = None


class SpendIn(_Strict):
    spend_date: Day
    amount: MoneyIn
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class CallIn(_Strict):
    outcome: Outcome
    call_back_time: Instant | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    follow_up: Literal["create_prospect", "create_deal"] | None = None
    deal_title: Short = ""
    deal_amount: MoneyIn | None = None


class PreviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample_size: Annotated[int, Field(ge=0, le=100, description="How many records to show (0 = 20).")] = 0


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(False, description="Check and report only; nothing is created.")
    owner_id: OptionalId = Field("", description="The owner of the new prospects (default: the campaign's).")


def _stub() -> Any:
    return stub(campaigns_pb2_grpc.CampaignsServiceStub, "campaigns")


CAMPAIGNS = Collection(
    kind="campaigns",
    service="campaigns",
    stub=_stub,
    message=pb.Campaign,
    field="campaign",
    get_rpc="GetCampaign",
    requests=pb,
)
ONE = ProtoJson(pb.Campaign)


def _call(rpc: str, req: Any, timeout: float | None = None) -> Any:
    return call("campaigns", getattr(_stub(), rpc), req, timeout)


def owner_scope(owner_id: str) -> list[str]:
    """The owners whose prospects a campaign owned by `owner_id` may reach, as the campaigns
    service takes them (empty = any): an admin's all, a manager's their teams' and their own,
    anyone else's (a rep, or an id the directory does not know) their own."""
    directory = authenticator().directory
    user = directory.users.get(owner_id)
    role = user.role if user is not None else "rep"
    if role == "admin":
        return []
    if role == "manager":
        return sorted(directory.managed_user_ids(owner_id))
    return [owner_id]


@res.route("GET", "/api/v1/campaigns", query=CampaignListQuery, response=ProtoPage(pb.Campaign))
def list_campaigns(query: CampaignListQuery) -> Response:
    """List the campaigns the caller may see, oldest first."""
    filters: dict[str, Any] = {"query": query.q, "page_size": query.page_size, "page_token": query.page_token}
    if query.type:
        filters["type"] = enum_value(pb.CampaignType.DESCRIPTOR, query.type)
    if query.status:
        filters["status"] = enum_value(pb.CampaignStatus.DESCRIPTOR, query.status)
    if query.active_on:
        d = query.active_on
        filters["active_on"] = types_pb2.Date(year=d.year, month=d.month, day=d.day)
    if query.call_lists:
        # Visible through the caller's own members, whoever owns the campaign.
        filters["member_rep_id"] = principal().id
        owners: list[str] | None = list(query.owner_id)
    else:
        owners = owner_filter("campaigns", query.owner_id)
        if owners is None:
            return respond(page([], ""))
    answer = _call("ListCampaigns", pb.ListCampaignsRequest(owner_ids=owners, **filters))
    items = list(answer.campaigns)
    body = page(items, answer.next_page_token)
    body["items"] = [_shown(b, c) for b, c in zip(body["items"], items, strict=True)]
    return respond(body)


def _may_change(owner_id: str) -> bool:
    scope = change_scope()
    return scope is None or owner_id in scope


def _shown(body: dict[str, Any], campaign: Any) -> dict[str, Any]:
    """A campaign as the caller may read it: the webhook secret only for those who may change it."""
    if not _may_change(campaign.owner_id):
        body["webhook_secret"] = ""
    return body


def _works_call_list(campaign_id: str) -> bool:
    """Whether the caller has members of the campaign's call list assigned to them."""
    req = pb.ListMembersRequest(campaign_id=campaign_id, assigned_rep_id=principal().id, page_size=1)
    return bool(_call("ListMembers", req).members)


def _read(campaign_id: str) -> tuple[Any, bool]:
    """The campaign, and whether the caller reads it only as a rep working its call list (else
    through its owner); neither is a 404, as for a campaign that does not exist."""
    campaign = _call("GetCampaign", pb.GetCampaignRequest(id=campaign_id)).campaign
    scope = read_scope("campaigns")
    if scope is None or campaign.owner_id in scope:
        return campaign, False
    if _works_call_list(campaign_id):
        return campaign, True
    raise not_found("campaigns", campaign_id)


@res.route(
    "POST",
    "/api/v1/campaigns",
    body=CampaignCreate,
    response=ONE,
    status=201,
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_campaign(body: CampaignCreate) -> Response:
    """Create a draft campaign.
    Its webhook_secret (for the Google Ads and RD Station webhooks) is made by the service."""
    owner = assignable_owner(body.owner_id)
    return CAMPAIGNS.create(
        "CreateCampaign",
        body,
        lambda i: url_for("campaigns.get_campaign", campaign_id=i),
        allowed_owner_ids=owner_scope(owner),
    )


@res.route("GET", "/api/v1/campaigns/<id:campaign_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_campaign(campaign_id: str) -> Response:
    """Get a campaign (a rep working its call list reads it too; the webhook secret only for
    those who may change it)."""
    campaign, _by_call_list = _read(campaign_id)
    return respond(_shown(to_json(campaign), campaign), headers=etag(campaign.version))


@res.route("PATCH", "/api/v1/campaigns/<id:campaign_id>", body=CampaignPatch, response=ONE, **CHANGE)
def update_campaign(campaign_id: str, body: CampaignPatch) -> Response:
    """Update a campaign (its owner, their manager, or an admin).
    A prospects target must stay within what the owner (after the update) may see."""
    return CAMPAIGNS.update(
        "UpdateCampaign",
        campaign_id,
        body,
        lambda current, changed: {"allowed_owner_ids": owner_scope(changed.get("owner_id") or current.owner_id)},
    )


@res.route("DELETE", "/api/v1/campaigns/<id:campaign_id>", status=204, errors=(404,))
def delete_campaign(campaign_id: str) -> Response:
    """Delete a draft campaign (a launched one is cancelled instead)."""
    return CAMPAIGNS.delete("DeleteCampaign", campaign_id)


def _action(rpc: str, campaign_id: str, **kw: Any) -> Response:
    """A life-cycle action on a campaign the caller may change, at the version If-Match names."""
    current = CAMPAIGNS.fetch(campaign_id, for_change=True)
    expected = check_version(if_match(), current.version, "campaign")
    if rpc == "LaunchCampaign":
        # The scope of the owner read at `expected`: an owner changed meanwhile fails the version check.
        kw["allowed_owner_ids"] = owner_scope(current.owner_id)
    answer = _call(rpc, getattr(pb, f"{rpc}Request")(campaign_id=campaign_id, expected_version=expected, **kw))
    return respond(
        to_json(answer) if rpc == "LaunchCampaign" else to_json(answer.campaign), headers=etag(answer.campaign.version)
    )


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>:launch",
    body=LaunchIn,
    response=ProtoJson(pb.LaunchCampaignResponse),
    **CHANGE,
)
def launch_campaign(campaign_id: str, body: LaunchIn) -> Response:
    """Launch a draft: its segment becomes its members; it runs (or waits for its start date).
    A call list is spread over rep_ids (the owner when none; each one a user the caller may assign
    records to). Launching again changes nothing. A prospects segment is narrowed to the prospects
    the campaign's owner may see."""
    reps = [assignable_owner(r, f"rep_ids[{i}]") for i, r in enumerate(body.rep_ids)]
    return _action("LaunchCampaign", campaign_id, rep_ids=reps)


@res.route("POST", "/api/v1/campaigns/<id:campaign_id>:complete", body=Empty, response=ONE, **CHANGE)
def complete_campaign(campaign_id: str, body: Empty) -> Response:
    """Complete a launched campaign (its final results go out as campaign_completed)."""
    return _action("CompleteCampaign", campaign_id)


@res.route("POST", "/api/v1/campaigns/<id:campaign_id>:cancel", body=CancelIn, response=ONE, **CHANGE)
def cancel_campaign(campaign_id: str, body: CancelIn) -> Response:
    """Cancel a campaign that is not completed (its queued mail is not sent)."""
    return _action("CancelCampaign", campaign_id, reason=body.reason)


@res.route(
    "GET",
    "/api/v1/campaigns/<id:campaign_id>/members",
    query=MemberListQuery,
    response=ProtoPage(pb.Member),
    errors=(404,),
)
def list_members(campaign_id: str, query: MemberListQuery) -> Response:
    """List a campaign's members (the segment as launched, and captured leads). A rep working the
    call list of a campaign they may not otherwise read sees only the members assigned to them."""
    _campaign, by_call_list = _read(campaign_id)
    req = pb.ListMembersRequest(
        campaign_id=campaign_id,
        query=query.q,
        assigned_rep_id=principal().id if by_call_list else query.assigned_rep_id,
        page_size=query.page_size,
        page_token=query.page_token,
    )
    if query.status:
        req.status = enum_member(pb.MemberStatus, query.status)
    if query.last_call_outcome:
        req.last_call_outcome = enum_member(pb.CallOutcome, query.last_call_outcome)
    if query.call_back_before:
        req.call_back_before.FromDatetime(query.call_back_before)
    answer = _call("ListMembers", req)
    return respond(page(list(answer.members), answer.next_page_token))


@res.route(
    "GET",
    "/api/v1/campaigns/<id:campaign_id>/segment-preview",
    query=PreviewQuery,
    response=ProtoJson(pb.PreviewSegmentResponse),
    errors=(404,),
)
def preview_segment(campaign_id: str, query: PreviewQuery) -> Response:
    """Who the draft's target segment reaches now, as a launch would snapshot it: how many, how
    many the channel cannot reach (skipped), and the first few; nothing changes. A launched
    campaign answers its members' counts and no sample."""
    campaign = CAMPAIGNS.fetch(campaign_id)
    req = pb.PreviewSegmentRequest(
        campaign_id=campaign_id, allowed_owner_ids=owner_scope(campaign.owner_id), sample_size=query.sample_size
    )
    return respond(to_json(_call("PreviewSegment", req)))


@res.route("GET", "/api/v1/campaigns/<id:campaign_id>/results", response=ProtoJson(pb.CampaignResults), errors=(404,))
def campaign_results(campaign_id: str) -> Response:
    """The campaign's figures: reach, opens, clicks, calls by outcome, leads, deals, cost per lead, ROI."""
    CAMPAIGNS.fetch(campaign_id)
    return respond(to_json(_call("GetCampaignResults", pb.GetCampaignResultsRequest(campaign_id=campaign_id)).results))


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>:send",
    body=Empty,
    response=ProtoJson(pb.SendMailingResponse),
    status=202,
    errors=(404,),
    request_headers=("Idempotency-Key",),
)
def send_mailing(campaign_id: str, body: Empty) -> Response:
    """Send the mailing to every member not mailed yet (it goes on in the background).
    Nobody is ever mailed twice; unsubscribed addresses are skipped."""
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    req = pb.SendMailingRequest(campaign_id=campaign_id, request_id=idempotency_key(principal().id))
    return respond(to_json(_call("SendMailing", req)), 202)


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>:refresh-report",
    body=Empty,
    response=ProtoJson(pb.RefreshMailReportResponse),
    errors=(404,),
)
def refresh_mail_report(campaign_id: str, body: Empty) -> Response:
    """Read the mail provider's report (Mailchimp) into the members: opens, clicks, bounces, unsubscribes."""
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    return respond(to_json(_call("RefreshMailReport", pb.RefreshMailReportRequest(campaign_id=campaign_id))))


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>:send-test",
    body=TestMailIn,
    response=ProtoJson(pb.SendTestMailResponse),
    errors=(404,),
)
def send_test_mail(campaign_id: str, body: TestMailIn) -> Response:
    """Mail the content to a few addresses (sample merge values), touching no member."""
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    return respond(to_json(_call("SendTestMail", pb.SendTestMailRequest(campaign_id=campaign_id, emails=body.emails))))


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>/leads",
    body=LeadCapture,
    response=ProtoJson(pb.CaptureLeadResponse),
    errors=(404,),
    request_headers=("Idempotency-Key",),
)
def capture_lead(campaign_id: str, body: LeadCapture) -> Response:
    """Capture a lead (a trade fair's visitor, a call): it becomes a prospect of the campaign.
    The same lead again (external id, else e-mail) creates nothing and answers created=false."""
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    lead = from_json(pb.Lead(), body.lead.model_dump())
    # The prospect's owner, when named, is someone the caller may assign records to (empty = the campaign's owner).
    owner = assignable_owner(body.owner_id) if body.owner_id else ""
    req = pb.CaptureLeadRequest(
        campaign_id=campaign_id, lead=lead, owner_id=owner, request_id=idempotency_key(principal().id)
    )
    answer = _call("CaptureLead", req)
    return respond(to_json(answer))


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>/leads:import",
    query=ImportQuery,
    response=ProtoJson(pb.ImportLeadsResponse),
    errors=(404,),
    upload_types=("text/csv", XLSX),
    max_body=IMPORT_MAX_BYTES,
)
def import_leads(campaign_id: str, query: ImportQuery) -> Response:
    """Import a trade fair's leads from a CSV or XLSX file (the body), with the per-row report.
    Columns in Spanish or English (nombre, apellido, empresa, correo, teléfono, ciudad, país ...)."""
    formats = {"text/csv": pb.IMPORT_FORMAT_CSV, XLSX: pb.IMPORT_FORMAT_XLSX}
    if request.mimetype not in formats:
        raise ProblemError(415, "unsupported_media_type", f"send the file as text/csv or {XLSX}")
    content = request.get_data(cache=False)
    if not content:
        raise ProblemError(400, "empty_file", "the body is empty: send the file itself")
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    req = pb.ImportLeadsRequest(
        campaign_id=campaign_id,
        format=formats[request.mimetype],
        content=content,
        file_name=request.headers.get("X-File-Name", "")[:200],
        owner_id=assignable_owner(query.owner_id) if query.owner_id else "",
        dry_run=query.dry_run,
    )
    return respond(to_json(_call("ImportLeads", req, timeout=IMPORT_DEADLINE_SECONDS)))


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>/spend",
    body=SpendIn,
    response=ProtoJson(pb.RecordSpendResponse),
    status=201,
    errors=(404,),
    request_headers=("Idempotency-Key",),
)
def record_spend(campaign_id: str, body: SpendIn) -> Response:
    """Record an amount spent on a day (in the budget's currency); the campaign's cost is the sum."""
    CAMPAIGNS.fetch(campaign_id, for_change=True)
    d = body.spend_date
    req = pb.RecordSpendRequest(
        campaign_id=campaign_id,
        spend_date=types_pb2.Date(year=d.year, month=d.month, day=d.day),
        amount=types_pb2.Money(amount=body.amount.amount, currency_code=body.amount.currency_code),
        description=body.description,
        request_id=idempotency_key(principal().id),
    )
    return respond(to_json(_call("RecordSpend", req)), 201)


@res.route(
    "POST",
    "/api/v1/campaigns/<id:campaign_id>/members/<id:member_id>:call",
    body=CallIn,
    response=ProtoJson(pb.RecordCallOutcomeResponse),
    errors=(404,),
    request_headers=("Idempotency-Key",),
)
def record_call(campaign_id: str, member_id: str, body: CallIn) -> Response:
    """Log a call to a member: a done call activity of the campaign; an interested member may
    become a prospect or get a deal (follow_up). Those who may change the campaign log calls to
    any member; a rep working its call list, to the members assigned to them (another is 404)."""
    _campaign, by_call_list = _read(campaign_id)
    req = from_json(pb.RecordCallOutcomeRequest(member_id=member_id), body.model_dump(exclude_none=True))
    req.campaign_id = campaign_id
    if by_call_list:
        req.assigned_rep_id = principal().id
    req.request_id = idempotency_key(principal().id)
    return respond(to_json(_call("RecordCallOutcome", req)))
