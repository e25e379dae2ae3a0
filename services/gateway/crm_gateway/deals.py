"""/api/v1/deals: opportunities to sell (Negocio), moving through a pipeline's stages. A rep sees
and works their own deals; a manager their team's; an admin all. Moves, wins, losses and reopening
are custom actions (`:move`, `:win`, `:lose`, `:reopen`) that, like a PATCH, take If-Match."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from flask import Response, stream_with_context, url_for
from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2, contacts_pb2_grpc
from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm_gateway.access import authenticator, change_scope, owner_filter
from crm_gateway.activities import check_campaign
from crm_gateway.api import ProblemError, UpstreamError, call, etag, if_match, respond
from crm_gateway.convert import ProtoJson, ProtoPage, _looks_like_formula, to_json
from crm_gateway.lists import UUID_PATTERN, Id
from crm_gateway.money import MoneyIn
from crm_gateway.owned import Collection
from crm_gateway.routing import CHANGE, Resource
from crm_platform.grpc_client import stub

res = Resource("deals", "Deals", "Opportunities to sell (Negocio), moving through a pipeline's stages.")

OptionalId = Annotated[str, StringConstraints(pattern=UUID_PATTERN.replace("^", "^(").replace("$", ")?$"))]
Decimal = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,18}(\.[0-9]{1,6})?$")]
Status = Literal["open", "won", "lost"]
# Dates come as "YYYY-MM-DD" strings in JSON (strict models take no strings for dates otherwise).
Day = Annotated[date, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LineItemIn(_Strict):
    product_id: Id
    quantity: Decimal = "1"


Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LineItems = Annotated[list[LineItemIn], Field(max_length=100)]
ContactIds = Annotated[list[Id], Field(max_length=50)]
Probability = Annotated[int, Field(ge=0, le=100)]


class DealCreate(_Strict):
    """A new deal, open in `pipeline_id` (the default pipeline unless named) at `stage_id` (its
    first stage unless named). The client must exist, the contacts must be the client's, the
    products must be active catalogue products. `owner_id` defaults to the caller; `probability`
    to the stage's; the amount to zero in the default currency."""

    title: Title
    client_id: Id
    contact_ids: ContactIds = []
    line_items: LineItems = []
    amount: MoneyIn | None = None
    owner_id: Id | None = None
    pipeline_id: OptionalId = ""
    stage_id: OptionalId = ""
    probability: Probability = 0
    expected_close_date: Day | None = None
    source_campaign_id: OptionalId = ""


class DealPatch(_Strict):
    """The fields to change (stage and status change through :move, :win, :lose and :reopen)."""

    title: Title | None = None
    client_id: Id | None = None
    contact_ids: ContactIds = []
    line_items: LineItems = []
    amount: MoneyIn | None = None
    owner_id: Id | None = None
    probability: Probability = 0
    expected_close_date: Day | None = None
    source_campaign_id: OptionalId = ""


class DealFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Search in titles.")] = ""
    owner_id: Annotated[list[Id], Field(max_length=100, description="Repeat for several owners.")] = []
    pipeline_id: OptionalId = ""
    stage_id: OptionalId = ""
    status: Status | None = None
    client_id: OptionalId = ""
    contact_id: OptionalId = ""
    product_id: OptionalId = ""
    source_campaign_id: OptionalId = ""
    expected_close_from: date | None = Field(None, description="Expected to close on or after (YYYY-MM-DD).")
    expected_close_to: date | None = Field(None, description="Expected to close on or before (YYYY-MM-DD).")

    def deal_filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "query": self.q,
            "pipeline_id": self.pipeline_id,
            "stage_id": self.stage_id,
            "client_id": self.client_id,
            "contact_id": self.contact_id,
            "product_id": self.product_id,
            "source_campaign_id": self.source_campaign_id,
        }
        if self.status:
            out["status"] = deals_pb2.DealStatus.Value(f"DEAL_STATUS_{self.status.upper()}")
        for name in ("expected_close_from", "expected_close_to"):
            day = getattr(self, name)
            if day is not None:
                out[name] = types_pb2.Date(year=day.year, month=day.month, day=day.day)
        return out


class DealListQuery(DealFilters):
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: Annotated[str, StringConstraints(max_length=2000)] = ""
    include_total_size: bool = Field(False, description="Also count every match (total_size).")


class MoveIn(_Strict):
    stage_id: Id
    keep_probability: bool = Field(False, description="Keep the deal's probability instead of the stage's.")


class LoseIn(_Strict):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ReopenIn(_Strict):
    stage_id: OptionalId = Field("", description="An open stage; empty = the stage the deal was in before.")


class Empty(_Strict):
    pass


DEALS = Collection(
    kind="deals",
    service="deals",
    stub=lambda: stub(deals_pb2_grpc.DealsServiceStub, "deals"),
    message=deals_pb2.Deal,
    field="deal",
    get_rpc="GetDeal",
    requests=deals_pb2,
)
ONE = ProtoJson(deals_pb2.Deal)


@res.route("GET", "/api/v1/deals", query=DealListQuery, response=ProtoPage(deals_pb2.Deal))
def list_deals(query: DealListQuery) -> Response:
    """List the deals the caller may see, oldest first."""
    return DEALS.list(
        "ListDeals",
        "deals",
        query.owner_id,
        **query.deal_filters(),
        page_size=query.page_size,
        page_token=query.page_token,
        include_total_size=query.include_total_size,
    )


# The deals export reads like a report, in the product's language: names, words and dates, with
# the ids after them for whoever joins the file with other data.
_EXPORT_HEADER = (
    "Título",
    "Cliente",
    "Responsable",
    "Embudo",
    "Etapa",
    "Estado",
    "Monto",
    "Moneda",
    "Probabilidad",
    "Cierre esperado",
    "Motivo de pérdida",
    "Creado",
    "Ganado el",
    "Perdido el",
    "id",
    "client_id",
    "owner_id",
    "pipeline_id",
    "stage_id",
    "source_campaign_id",
)
_STATUS_WORDS = {
    deals_pb2.DEAL_STATUS_OPEN: "Abierto",
    deals_pb2.DEAL_STATUS_WON: "Ganado",
    deals_pb2.DEAL_STATUS_LOST: "Perdido",
}
EXPORT_MAX_ROWS = 1_000_000


def _day(d: types_pb2.Date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}" if d.year else ""


def _when(msg: Message, name: str) -> str:
    return getattr(msg, name).ToDatetime(tzinfo=UTC).isoformat() if msg.HasField(name) else ""


def _stage_names() -> dict[str, tuple[str, str]]:
    """stage id → (pipeline name, stage name), of every pipeline."""
    out: dict[str, tuple[str, str]] = {}
    token = ""
    while True:
        res = call("deals", DEALS.stub().ListPipelines, deals_pb2.ListPipelinesRequest(page_size=500, page_token=token))
        for p in res.pipelines:
            for st in p.stages:
                out[st.id] = (p.name, st.name)
        token = res.next_page_token
        if not token:
            return out


def _client_names(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    contacts = stub(contacts_pb2_grpc.ContactsServiceStub, "contacts")
    res = call("contacts", contacts.BatchGetClients, contacts_pb2.BatchGetClientsRequest(ids=sorted(ids)))
    return {c.id: c.name for c in res.clients}


@res.route("GET", "/api/v1/deals:export", query=DealFilters, content_type="text/csv")
def export_deals(query: DealFilters) -> Response:
    """Export the deals the caller may see as CSV (the same filters as the list), as a report
    reads: the client, owner, pipeline and stage by name, the status as a word (Abierto, Ganado,
    Perdido), the expected close date as one date (YYYY-MM-DD), times in UTC (ISO 8601); the ids
    follow in the last columns. A cell a spreadsheet would run as a formula starts with a quote."""
    owners = owner_filter("deals", query.owner_id)
    filters = query.deal_filters()
    users = authenticator().directory.users

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(_EXPORT_HEADER)
        yield buffer.getvalue()
        if owners is None:
            return
        stages = _stage_names()
        token, rows = "", 0
        while rows < EXPORT_MAX_ROWS:
            req = deals_pb2.ListDealsRequest(owner_ids=owners, page_size=500, page_token=token, **filters)
            res_ = call("deals", DEALS.stub().ListDeals, req)
            clients = _client_names({d.client_id for d in res_.deals if d.client_id})
            buffer.seek(0)
            buffer.truncate()
            for d in res_.deals:
                owner = users.get(d.owner_id)
                pipeline, stage = stages.get(d.stage_id, ("", ""))
                cells = [
                    d.title,
                    clients.get(d.client_id, d.client_id),
                    owner.display_name if owner is not None else d.owner_id,
                    pipeline,
                    stage or d.stage_id,
                    _STATUS_WORDS.get(d.status, ""),
                    d.amount.amount,
                    d.amount.currency_code,
                    str(d.probability),
                    _day(d.expected_close_date),
                    d.lost_reason,
                    _when(d, "create_time"),
                    _when(d, "won_time"),
                    _when(d, "lost_time"),
                    d.id,
                    d.client_id,
                    d.owner_id,
                    d.pipeline_id,
                    d.stage_id,
                    d.source_campaign_id,
                ]
                writer.writerow(["'" + c if _looks_like_formula(c) else c for c in cells])
            rows += len(res_.deals)
            yield buffer.getvalue()
            token = res_.next_page_token
            if not token:
                return

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="deals-{stamp}.csv"'},
    )


@res.route(
    "POST",
    "/api/v1/deals",
    body=DealCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
)
def create_deal(body: DealCreate) -> Response:
    """Create a deal.
    An unknown client, a contact of another client or an unknown or inactive product is a 400
    naming the field; 503 when the service that knows cannot answer (nothing is written). A
    source campaign the caller may not see answers as an unknown one (400 naming
    source_campaign_id)."""
    check_campaign(body.source_campaign_id, "source_campaign_id")
    return DEALS.create("CreateDeal", body, lambda i: url_for("deals.get_deal", deal_id=i))


@res.route("GET", "/api/v1/deals/<id:deal_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_deal(deal_id: str) -> Response:
    """Get a deal, with its stage history and the time it spent in each stage."""
    return DEALS.get(deal_id)


@res.route("PATCH", "/api/v1/deals/<id:deal_id>", body=DealPatch, response=ONE, **CHANGE)
def update_deal(deal_id: str, body: DealPatch) -> Response:
    """Update a deal (its owner, their manager, or an admin).
    A source campaign named anew is checked as on create."""
    return DEALS.update("UpdateDeal", deal_id, body, _source_campaign_checked)


def _source_campaign_checked(current: Any, changed: dict[str, Any]) -> dict[str, Any]:
    """Only a campaign named anew: a deal may keep the campaign it came from (a rep's deal opened
    from their manager's call list)."""
    if changed.get("source_campaign_id", current.source_campaign_id) != current.source_campaign_id:
        check_campaign(changed["source_campaign_id"], "source_campaign_id")
    return {}


@res.route("DELETE", "/api/v1/deals/<id:deal_id>", status=204, errors=(404,))
def delete_deal(deal_id: str) -> Response:
    """Delete a deal for good (its activities stay, as the record of the work done)."""
    return DEALS.delete("DeleteDeal", deal_id)


def _transition(rpc: str, deal_id: str, **kw: Any) -> Response:
    """One call: the deals service applies the move to the deal as it stands, refusing (404, as a
    missing deal) one whose owner is outside the caller's scope, and a stale If-Match (412)."""
    scope = change_scope()
    expected = if_match()
    req = getattr(deals_pb2, f"{rpc}Request")(
        deal_id=deal_id,
        expected_version=expected or 0,
        allowed_owner_ids=sorted(scope) if scope is not None else [],
        **kw,
    )
    try:
        deal = call("deals", getattr(DEALS.stub(), rpc), req).deal
    except UpstreamError as exc:
        if expected is not None and exc.info.reason == "version_mismatch":
            current = exc.info.metadata.get("current_version", "?")
            raise ProblemError(
                412, "precondition_failed", f"the deal has changed since version {expected} (now {current}); re-read it"
            ) from None
        raise
    return respond(to_json(deal), headers=etag(deal.version))


@res.route("POST", "/api/v1/deals/<id:deal_id>:move", body=MoveIn, response=ONE, **CHANGE)
def move_deal(deal_id: str, body: MoveIn) -> Response:
    """Move an open deal to another open stage of its pipeline.
    It takes the stage's probability unless keep_probability."""
    return _transition("MoveDeal", deal_id, stage_id=body.stage_id, keep_probability=body.keep_probability)


@res.route("POST", "/api/v1/deals/<id:deal_id>:win", body=Empty, response=ONE, **CHANGE)
def win_deal(deal_id: str, body: Empty) -> Response:
    """Win an open deal: it goes to the pipeline's won stage."""
    return _transition("WinDeal", deal_id)


@res.route("POST", "/api/v1/deals/<id:deal_id>:lose", body=LoseIn, response=ONE, **CHANGE)
def lose_deal(deal_id: str, body: LoseIn) -> Response:
    """Lose an open deal, saying why (required)."""
    return _transition("LoseDeal", deal_id, reason=body.reason)


@res.route("POST", "/api/v1/deals/<id:deal_id>:reopen", body=ReopenIn, response=ONE, **CHANGE)
def reopen_deal(deal_id: str, body: ReopenIn) -> Response:
    """Reopen a won or lost deal, at the stage it left or the open stage named."""
    return _transition("ReopenDeal", deal_id, stage_id=body.stage_id)
