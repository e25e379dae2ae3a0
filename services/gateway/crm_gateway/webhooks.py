"""Public endpoints that providers and recipients call without a bearer token, each authenticated
by what it carries:

- `POST /api/v1/webhooks/google-ads/<campaign id>`: a Google Ads lead form webhook. Its documented
  payload carries `google_key`, the key set in the form's webhook settings: it must be the
  campaign's `webhook_secret`. The lead's `user_column_data` (FULL_NAME, FIRST_NAME, LAST_NAME,
  EMAIL, PHONE_NUMBER, COMPANY_NAME, JOB_TITLE, CITY, COUNTRY ...) becomes a prospect of the
  campaign; `lead_id` is its external id, so a redelivery creates nothing more.
- `POST /api/v1/webhooks/rd-station/<campaign id>?secret=<webhook_secret>` (or the header
  `X-CRM-Webhook-Secret`): an RD Station Marketing conversion webhook, `{"leads": [...]}` with
  each lead's email, name, company, job_title, personal_phone / mobile_phone, city, state ...;
  each lead's uuid (else id) is its external id.
- `POST /api/v1/webhooks/mailchimp/<campaign id>?secret=<webhook_secret>`: Mailchimp's audience
  webhook (form-encoded: `type=unsubscribe` or `type=cleaned` with `data[email]`): the member is
  marked unsubscribed (and the address suppressed) or bounced. Mailchimp checks the URL with a GET
  first, answered 200.
- `GET /api/v1/unsubscribe?token=...`: a mailing's unsubscribe link (a token signed by the
  campaigns service names the member): the address is never mailed again.

A wrong secret, or a campaign that does not exist, is 401 (the two are not told apart, so campaign
ids cannot be probed; a path that is not an id at all is 404); a payload that is not the provider's
shape is 400 naming the problem."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Response, request
from markupsafe import escape
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import campaigns_pb2_grpc
from crm_gateway.api import ProblemError, UpstreamError, call, respond
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub

res = Resource("webhooks", "Webhooks", "Leads from Google Ads and RD Station, and mailing unsubscribe links (public).")

Text = Annotated[str, StringConstraints(max_length=2000)]
# Campaign ids in the path: anything else cannot be a campaign (answered as a bad secret).
_ID = Annotated[str, StringConstraints(max_length=64)]


class _Open(BaseModel):
    """Providers add fields over time: unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")


class GoogleColumn(_Open):
    column_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    string_value: Text = ""
    column_name: Text = ""


class GoogleLead(_Open):
    """Google Ads lead form webhook (Lead form extensions, webhook integration)."""

    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    google_key: Annotated[str, StringConstraints(max_length=200)]
    user_column_data: Annotated[list[GoogleColumn], Field(max_length=100)]
    api_version: Text = ""
    form_id: int | str | None = None
    campaign_id: int | str | None = None
    is_test: bool = False
    gcl_id: Text = ""


class RdLead(_Open):
    id: int | str | None = None
    uuid: Text = ""
    email: Text = ""
    name: Text = ""
    company: Text | None = ""
    job_title: Text | None = ""
    personal_phone: Text | None = ""
    mobile_phone: Text | None = ""
    city: Text | None = ""
    state: Text | None = ""


class RdConversion(_Open):
    """RD Station Marketing conversion webhook."""

    leads: Annotated[list[RdLead], Field(min_length=1, max_length=1000)]


class UnsubscribeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RdQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Annotated[str, StringConstraints(max_length=200)] = Field("", description="The campaign's webhook_secret.")


class WebhookAnswer(BaseModel):
    created: int
    duplicates: int
    errors: list[dict[str, Any]] = []


def _stub() -> Any:
    return stub(campaigns_pb2_grpc.CampaignsServiceStub, "campaigns")


def _split(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


_GOOGLE_FIELDS = {
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "EMAIL": "email",
    "WORK_EMAIL": "email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "phone",
    "COMPANY_NAME": "company_name",
    "JOB_TITLE": "job_title",
    "CITY": "city",
}


def google_lead(body: GoogleLead) -> pb.Lead:
    values: dict[str, str] = {}
    notes: list[str] = []
    for col in body.user_column_data:
        key = col.column_id.upper()
        value = col.string_value.strip()
        if key == "FULL_NAME":
            values.setdefault("first_name", _split(value)[0])
            values.setdefault("last_name", _split(value)[1])
        elif key == "COUNTRY" and len(value) == 2:
            values["country_code"] = value.upper()
        elif key in _GOOGLE_FIELDS:
            values.setdefault(_GOOGLE_FIELDS[key], value)
        elif value:
            notes.append(f"{col.column_name or col.column_id}: {value}")
    if body.is_test:
        notes.insert(0, "Google Ads test lead")
    return pb.Lead(**values, notes="\n".join(notes)[:5000], source=pb.LEAD_SOURCE_GOOGLE_ADS, external_id=body.lead_id)


def rd_lead(lead: RdLead) -> pb.Lead:
    first, last = _split(lead.name)
    notes = f"Estado / State: {lead.state}" if lead.state else ""
    return pb.Lead(
        first_name=first,
        last_name=last,
        company_name=lead.company or "",
        job_title=lead.job_title or "",
        email=lead.email,
        phone=lead.personal_phone or lead.mobile_phone or "",
        city=lead.city or "",
        notes=notes,
        source=pb.LEAD_SOURCE_RD_STATION,
        external_id=lead.uuid or (str(lead.id) if lead.id is not None else ""),
    )


def _webhook_call(rpc: str, req: Any) -> Any:
    try:
        return call("campaigns", getattr(_stub(), rpc), req)
    except UpstreamError as exc:
        if exc.info.code.name in ("NOT_FOUND", "UNAUTHENTICATED"):
            raise ProblemError(401, "bad_webhook_secret", "the secret is not this campaign's") from None
        raise


@res.route(
    "POST",
    "/api/v1/webhooks/google-ads/<id:campaign_id>",
    access="public",
    body=GoogleLead,
    response=WebhookAnswer,
    errors=(401, 404),
)
def google_ads_lead(campaign_id: str, body: GoogleLead) -> Response:
    """A Google Ads lead form webhook: the lead becomes a prospect of the campaign.
    google_key must be the campaign's webhook_secret. A redelivered lead (same lead_id) creates nothing."""
    if not body.google_key:
        raise ProblemError(401, "bad_webhook_secret", "google_key is missing")
    lead = google_lead(body)
    req = pb.CaptureLeadRequest(campaign_id=campaign_id, lead=lead, webhook_secret=body.google_key)
    answer = _webhook_call("CaptureLead", req)
    return respond({"created": int(answer.created), "duplicates": int(not answer.created), "errors": []})


@res.route(
    "POST",
    "/api/v1/webhooks/rd-station/<id:campaign_id>",
    access="public",
    query=RdQuery,
    body=RdConversion,
    response=WebhookAnswer,
    errors=(401, 404),
)
def rd_station_conversion(campaign_id: str, query: RdQuery, body: RdConversion) -> Response:
    """An RD Station conversion webhook: each lead becomes a prospect of the campaign.
    The campaign's webhook_secret comes as ?secret= or in X-CRM-Webhook-Secret. Leads already
    captured (same uuid, or same e-mail) are counted as duplicates; refused ones are listed."""
    secret = request.headers.get("X-CRM-Webhook-Secret") or query.secret
    if not secret:
        raise ProblemError(401, "bad_webhook_secret", "the webhook secret is missing")
    req = pb.BatchCaptureLeadsRequest(
        campaign_id=campaign_id, leads=[rd_lead(x) for x in body.leads], webhook_secret=secret[:200]
    )
    answer = _webhook_call("BatchCaptureLeads", req)
    errors = [{"index": e.index, "message": e.message} for e in answer.errors]
    if errors and not answer.created_count and not answer.duplicate_count:
        raise ProblemError(
            400, "invalid_leads", "; ".join(f"leads[{e['index']}]: {e['message']}" for e in errors), errors=errors
        )
    return respond({"created": answer.created_count, "duplicates": answer.duplicate_count, "errors": errors})


class MailchimpAnswer(BaseModel):
    recorded: bool


_MAILCHIMP_EVENTS = {"unsubscribe": pb.MAIL_EVENT_KIND_UNSUBSCRIBED, "cleaned": pb.MAIL_EVENT_KIND_BOUNCED}


@res.route(
    "GET",
    "/api/v1/webhooks/mailchimp/<id:campaign_id>",
    access="public",
    query=RdQuery,
    response=MailchimpAnswer,
    upstream=False,
    errors=(404,),
)
def mailchimp_webhook_check(campaign_id: str, query: RdQuery) -> Response:
    """Mailchimp's check of the webhook's URL when it is set up (nothing is recorded)."""
    return respond({"recorded": False})


@res.route(
    "POST",
    "/api/v1/webhooks/mailchimp/<id:campaign_id>",
    access="public",
    query=RdQuery,
    response=MailchimpAnswer,
    errors=(401, 404),
)
def mailchimp_webhook(campaign_id: str, query: RdQuery) -> Response:
    """A Mailchimp audience webhook (form-encoded): unsubscribe and cleaned (bounced) addresses
    are recorded on the campaign's member; other types are acknowledged and ignored. The campaign's
    webhook_secret comes as ?secret=."""
    if not query.secret:
        raise ProblemError(401, "bad_webhook_secret", "the webhook secret is missing")
    kind = request.form.get("type", "")
    email = request.form.get("data[email]", "").strip()
    if not kind:
        raise ProblemError(400, "malformed_webhook", "type: missing (a Mailchimp webhook is form-encoded)")
    if kind not in _MAILCHIMP_EVENTS:
        return respond({"recorded": False})
    if not email:
        raise ProblemError(400, "malformed_webhook", "data[email]: missing")
    fired = request.form.get("fired_at", "")
    req = pb.RecordMailEventRequest(
        campaign_id=campaign_id,
        email=email[:320],
        kind=_MAILCHIMP_EVENTS[kind],
        external_event_id=f"mailchimp:{kind}:{email}:{fired}"[:200],
        webhook_secret=query.secret,
    )
    try:
        call("campaigns", _stub().RecordMailEvent, req)
    except UpstreamError as exc:
        if exc.info.reason == "member_not_found":
            return respond({"recorded": False})  # an audience member this campaign did not mail
        if exc.info.code.name in ("NOT_FOUND", "UNAUTHENTICATED"):
            raise ProblemError(401, "bad_webhook_secret", "the secret is not this campaign's") from None
        raise
    return respond({"recorded": True})


@res.route(
    "GET", "/api/v1/unsubscribe", access="public", query=UnsubscribeQuery, content_type="text/html", errors=(404,)
)
def unsubscribe(query: UnsubscribeQuery) -> Response:
    """A mailing's unsubscribe link: the address is never mailed again (by any campaign)."""
    answer = call("campaigns", _stub().Unsubscribe, pb.UnsubscribeRequest(token=query.token))
    page = (
        "<!doctype html><html lang='es'><meta charset='utf-8'><title>Suscripción cancelada</title>"
        f"<p>{escape(answer.email)} no recibirá más correos de nuestras campañas.</p>"
        f"<p lang='en'>{escape(answer.email)} will get no more mail from our campaigns.</p></html>"
    )
    return Response(page, mimetype="text/html")
