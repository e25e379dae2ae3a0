"""/api/v1/activities: calls, meetings, visits, tasks and e-mails scheduled or logged (Actividad)
against a deal, client, contact or prospect, served by the deals service. Activities are owned
records: a rep sees and works their own; a manager their team's; an admin all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from flask import Response, url_for
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crm.campaigns.v1 import campaigns_pb2, campaigns_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_gateway.access import read_scope
from crm_gateway.api import ProblemError, call, check_version, etag, if_match, respond
from crm_gateway.clients import Id
from crm_gateway.convert import ProtoJson, ProtoPage, enum_value, to_json
from crm_gateway.lists import OPTIONAL_UUID, Instant
from crm_gateway.lists import Id as UserId
from crm_gateway.owned import Collection
from crm_gateway.routing import Resource
from crm_platform.grpc_client import stub
from crm_platform.ids import is_valid_id

res = Resource(
    "activities", "Activities", "Calls, meetings, visits, tasks and e-mails logged or scheduled (Actividad)."
)

Kind = Literal["call", "meeting", "visit", "task", "email"]
Status = Literal["scheduled", "done", "cancelled"]
Due = Literal["overdue", "upcoming"]
# A deal, client, contact, prospect or campaign id; "" = none.
RefId = Annotated[str, StringConstraints(pattern=OPTIONAL_UUID)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Notes = Annotated[str, StringConstraints(max_length=5000)]
Outcome = Annotated[str, StringConstraints(max_length=1000)]
Duration = Annotated[int, Field(ge=0, le=31 * 24 * 3600, description="Planned length in seconds; 0 = not given.")]


def _utc(value: datetime) -> datetime:
    # An instant near year 1 or 9999 with an offset may fall outside the years a timestamp holds.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range (years 1 to 9999)") from None


# RFC 3339 with an offset; in JSON bodies too (the body models are otherwise strict).
When = Annotated[Instant, AfterValidator(_utc), Field(strict=False)]


def _timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Links(_Strict):
    deal_id: RefId = Field("", description="A deal of this service; it gives the activity its client.")
    client_id: RefId = ""
    contact_id: RefId = Field("", description="A contact of the activity's client.")
    prospect_id: RefId = ""
    campaign_id: RefId = Field("", description="The campaign the work is for (telemarketing calls).")


class ActivityCreate(_Links):
    """A new activity about at least one of a deal, client, contact or prospect. Scheduled (with a
    due time) unless `status` is done: then it is logged as done (at `done_time`, default now).
    `owner_id` defaults to the caller."""

    kind: Kind
    subject: Subject
    notes: Notes = ""
    due_time: When | None = None
    duration_seconds: Duration = 0
    status: Literal["scheduled", "done"] | None = None
    done_time: When | None = None
    outcome: Outcome = ""
    owner_id: Id | None = None


class ActivityPatch(_Links):
    """The fields to change; the others keep their values. Status, done time and cancel reason
    change only through :complete and :cancel."""

    kind: Kind | None = None
    subject: Subject | None = None
    notes: Notes = ""
    due_time: When | None = None
    duration_seconds: Duration = 0
    outcome: Outcome = ""
    owner_id: Id | None = None


class CompleteIn(_Strict):
    """What came of the activity, and when it was done (default now)."""

    outcome: Outcome = ""
    done_time: When | None = None


class CancelIn(_Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ActivityListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Text search over subject and notes.")] = ""
    owner_id: Annotated[list[UserId], Field(max_length=100, description="Repeat for several owners.")] = []
    kind: Kind | None = None
    status: Status | None = None
    due: Due | None = Field(
        None, description="overdue: scheduled and due before now; upcoming: scheduled and due now or later."
    )
    deal_id: RefId = ""
    client_id: RefId = ""
    contact_id: RefId = ""
    prospect_id: RefId = ""
    campaign_id: RefId = ""
    due_after: When | None = Field(None, description="Due at or after (RFC 3339, with offset).")
    due_before: When | None = Field(None, description="Due before (RFC 3339, with offset).")
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: Annotated[str, StringConstraints(max_length=2000)] = ""

    def rpc_filters(self) -> dict[str, Any]:
        """The filters and paging as keyword arguments of ListActivities (owners are narrowed separately)."""
        enums = deals_pb2.Activity.DESCRIPTOR.fields_by_name
        out: dict[str, Any] = {
            "query": self.q,
            "deal_id": self.deal_id,
            "client_id": self.client_id,
            "contact_id": self.contact_id,
            "prospect_id": self.prospect_id,
            "campaign_id": self.campaign_id,
            "page_size": self.page_size,
            "page_token": self.page_token,
        }
        if self.kind:
            out["kind"] = enum_value(enums["kind"].enum_type, self.kind)
        if self.status:
            out["status"] = enum_value(enums["status"].enum_type, self.status)
        if self.due:
            out["due"] = deals_pb2.ActivityDueFilter.Value(f"ACTIVITY_DUE_FILTER_{self.due.upper()}")
        for name in ("due_after", "due_before"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _timestamp(value)
        return out


ACTIVITIES = Collection(
    kind="activities",
    service="deals",
    stub=lambda: stub(deals_pb2_grpc.DealsServiceStub, "deals"),
    message=deals_pb2.Activity,
    field="activity",
    get_rpc="GetActivity",
    requests=deals_pb2,
)
ONE = ProtoJson(deals_pb2.Activity)


def _reference_scope() -> dict[str, list[str]]:
    """The owners whose deals and prospects the caller may see (the two kinds share one scope),
    for the deals service to refuse a reference to any other exactly as a missing record, so that
    an activity neither reveals nor attaches to what the caller cannot open. Clients and contacts
    are readable by everyone. Empty = any owner."""
    scope = read_scope("deals")
    return {"allowed_owner_ids": sorted(scope) if scope is not None else []}


def check_campaign(campaign_id: str, field: str = "campaign_id") -> None:
    """A campaign a record names (an activity's campaign_id, a deal's or prospect's
    source_campaign_id: their services keep the id only) must be one the caller may see;
    another, like an unknown id, is a 400 naming `field`, in the form the deals service gives an
    unknown deal or prospect. An id that is no id at all is left to the record's service, which
    names the field in its own words."""
    if not campaign_id or not is_valid_id(campaign_id):
        return
    req = campaigns_pb2.BatchGetCampaignsRequest(ids=[campaign_id])
    found = call("campaigns", stub(campaigns_pb2_grpc.CampaignsServiceStub, "campaigns").BatchGetCampaigns, req)
    scope = read_scope("campaigns")
    if not [c for c in found.campaigns if scope is None or c.owner_id in scope]:
        raise ProblemError(
            400,
            "campaign_not_found",
            f"{field}: campaign '{campaign_id}' does not exist",
            field=field,
            id=campaign_id,
        )


@res.route("GET", "/api/v1/activities", query=ActivityListQuery, response=ProtoPage(deals_pb2.Activity))
def list_activities(query: ActivityListQuery) -> Response:
    """List the activities the caller may see, by due time, then creation.
    An activity logged done without a due time is placed by its done time. due=overdue or
    due=upcoming lists a rep's agenda of scheduled activities either side of now."""
    return ACTIVITIES.list("ListActivities", "activities", query.owner_id, **query.rpc_filters())


@res.route(
    "POST",
    "/api/v1/activities",
    body=ActivityCreate,
    response=ONE,
    status=201,
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_activity(body: ActivityCreate) -> Response:
    """Schedule an activity, or log one already done.
    Unknown deals, clients, contacts and prospects, or a deal or contact of another client, are a
    400 naming the field; a deal, prospect or campaign the caller may not see answers as an
    unknown one."""
    check_campaign(body.campaign_id)
    return ACTIVITIES.create(
        "CreateActivity", body, lambda i: url_for("activities.get_activity", activity_id=i), **_reference_scope()
    )


@res.route("GET", "/api/v1/activities/<id:activity_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_activity(activity_id: str) -> Response:
    """Get an activity."""
    return ACTIVITIES.get(activity_id)


@res.route(
    "PATCH",
    "/api/v1/activities/<id:activity_id>",
    body=ActivityPatch,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_activity(activity_id: str, body: ActivityPatch) -> Response:
    """Update an activity (its owner, their manager, or an admin).
    A deal, prospect or campaign it is pointed at anew is checked as on create."""

    def checked(current: Any, changed: dict[str, Any]) -> dict[str, list[str]]:
        # Only a campaign named anew: a rep's call activity may keep the manager's campaign it came from.
        if changed.get("campaign_id", current.campaign_id) != current.campaign_id:
            check_campaign(changed["campaign_id"])
        return _reference_scope()

    return ACTIVITIES.update("UpdateActivity", activity_id, body, checked)


@res.route("DELETE", "/api/v1/activities/<id:activity_id>", status=204, errors=(404,))
def delete_activity(activity_id: str) -> Response:
    """Delete an activity."""
    return ACTIVITIES.delete("DeleteActivity", activity_id)


def _versioned(activity_id: str) -> int:
    """The expected_version of an action on the activity, which the caller must be able to change."""
    current = ACTIVITIES.fetch(activity_id, for_change=True)
    return check_version(if_match(), current.version, "activity")


@res.route(
    "POST",
    "/api/v1/activities/<id:activity_id>:complete",
    body=CompleteIn,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def complete_activity(activity_id: str, body: CompleteIn) -> Response:
    """Mark a scheduled activity done, with its outcome.
    Completing it again with the same outcome changes nothing; a done (otherwise) or cancelled
    activity is a 400."""
    req = deals_pb2.CompleteActivityRequest(
        activity_id=activity_id, outcome=body.outcome, expected_version=_versioned(activity_id)
    )
    if body.done_time is not None:
        req.done_time.CopyFrom(_timestamp(body.done_time))
    activity = call("deals", ACTIVITIES.stub().CompleteActivity, req).activity
    return respond(to_json(activity), headers=etag(activity.version))


@res.route(
    "POST",
    "/api/v1/activities/<id:activity_id>:cancel",
    body=CancelIn,
    response=ONE,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def cancel_activity(activity_id: str, body: CancelIn) -> Response:
    """Cancel a scheduled activity, saying why.
    Cancelling it again for the same reason changes nothing; a done activity is a 400."""
    req = deals_pb2.CancelActivityRequest(
        activity_id=activity_id, reason=body.reason, expected_version=_versioned(activity_id)
    )
    activity = call("deals", ACTIVITIES.stub().CancelActivity, req).activity
    return respond(to_json(activity), headers=etag(activity.version))
