"""/api/v1/quotes: proposals built from catalogue products, with totals and a PDF (Cotización).
Quotes are owned records: a rep sees and works their own, a manager their team's, an admin all.
Sending, accepting, rejecting and revising are custom actions (`:send`, `:accept`, `:reject`,
`:revise`) that, like a PATCH, take If-Match; `POST /api/v1/quotes:preview` computes a quote's
figures without storing it; `GET /api/v1/quotes/<id>/pdf` is the printable
proposal (Spanish unless `locale=en`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import Response, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.deals.v1 import deals_pb2, deals_pb2_grpc
from crm.quotes.v1 import quotes_pb2, quotes_pb2_grpc
from crm_gateway.access import assignable_owner, ensure_visible, read_scope
from crm_gateway.api import ProblemError, UpstreamError, call, check_version, etag, if_match, respond
from crm_gateway.convert import RATE_RULE, ProtoJson, ProtoPage, from_json, to_json
from crm_gateway.lists import UUID_PATTERN, Id, PageToken
from crm_gateway.money import CurrencyCode, DiscountRate, MoneyIn, OptionalCurrencyCode
from crm_gateway.owned import Collection
from crm_gateway.routing import CHANGE, Resource
from crm_platform.grpc_client import stub

res = Resource("quotes", "Quotes", "Proposals built from catalogue products, with totals and a PDF (Cotización).")

OptionalId = Annotated[str, StringConstraints(pattern=UUID_PATTERN.replace("^", "^(").replace("$", ")?$"))]
# A quantity greater than 0, with at most 18 integer digits and 6 decimals.
Quantity = Annotated[
    str,
    StringConstraints(
        pattern=r"^([1-9][0-9]{0,17}(\.[0-9]{1,6})?|0\.(0{0,5}[1-9][0-9]{0,5}))$",
    ),
    Field(description='Greater than 0, as a decimal string ("3", "2.5"); at most 6 decimals.'),
]
# A tax rate, or empty for the product's.
OptionalTaxRate = Annotated[
    str,
    StringConstraints(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)?$"),
    Field(description=f"{RATE_RULE} A tax rate from 0 to 1, at most 6 decimals; empty: the product's."),
]
GlobalDiscountRate = Annotated[
    DiscountRate, Field(description=f"{RATE_RULE} The quote's discount, on every line after its own.")
]
Text = Annotated[str, StringConstraints(max_length=5000)]
Status = Literal["draft", "sent", "accepted", "rejected", "expired", "superseded"]
# Dates come as "YYYY-MM-DD" strings in JSON.
Day = Annotated[date, Field(strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LineIn(_Strict):
    """A line from a catalogue product; its price, tax rate, SKU, description and unit are the
    product's (a snapshot) unless given."""

    product_id: Id
    quantity: Quantity
    unit_price: MoneyIn | None = None
    discount_rate: DiscountRate = "0"
    tax_rate: OptionalTaxRate = ""
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    sku: Annotated[str, StringConstraints(max_length=64)] = ""
    unit_of_measure: Annotated[str, StringConstraints(max_length=50)] = ""


Lines = Annotated[list[LineIn], Field(min_length=1, max_length=200)]


class QuoteCreate(_Strict):
    """A new draft quote for a deal: its client is the deal's; `contact_id` one of the deal's
    contacts (the first unless named); `currency_code` the deal's unless named; `owner_id` the
    caller unless named; `valid_until` 30 days from today unless named. Numbers and amounts are
    computed by the service."""

    deal_id: Id
    lines: Lines
    contact_id: OptionalId = ""
    owner_id: Id | None = None
    currency_code: OptionalCurrencyCode = ""
    global_discount_rate: GlobalDiscountRate = "0"
    valid_until: Day | None = None
    terms: Text = ""
    notes: Text = ""


class QuotePatch(_Strict):
    """The fields of a draft to change; `lines` replaces every line."""

    lines: Lines | None = None
    contact_id: OptionalId | None = None
    owner_id: Id | None = None
    currency_code: CurrencyCode | None = None
    global_discount_rate: GlobalDiscountRate | None = None
    valid_until: Day | None = None
    terms: Text | None = None
    notes: Text | None = None


class QuoteFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200), Field(description="Search number, terms, lines.")] = ""
    owner_id: Annotated[list[Id], Field(max_length=100, description="Repeat for several owners.")] = []
    deal_id: OptionalId = ""
    client_id: OptionalId = ""
    status: Status | None = None
    root_number: Annotated[str, StringConstraints(max_length=40), Field(description="Every revision of one quote.")] = (
        ""
    )
    include_superseded: bool = False
    page_size: Annotated[int, Field(ge=0, le=10_000, description="0 = the default (50); above 500 = 500.")] = 0
    page_token: PageToken = ""

    def rpc_filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "query": self.q,
            "deal_id": self.deal_id,
            "client_id": self.client_id,
            "root_number": self.root_number,
            "include_superseded": self.include_superseded,
            "page_size": self.page_size,
            "page_token": self.page_token,
        }
        if self.status:
            out["status"] = quotes_pb2.QuoteStatus.Value(f"QUOTE_STATUS_{self.status.upper()}")
        return out


class RejectIn(_Strict):
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class PdfQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: Literal["es", "en"] | None = Field(None, description="Language of the document (es unless set).")


class Empty(_Strict):
    pass


QUOTES = Collection(
    kind="quotes",
    service="quotes",
    stub=lambda: stub(quotes_pb2_grpc.QuotesServiceStub, "quotes"),
    message=quotes_pb2.Quote,
    field="quote",
    get_rpc="GetQuote",
    requests=quotes_pb2,
)
ONE = ProtoJson(quotes_pb2.Quote)
# A quote of 200 lines with long descriptions is larger than the gateway's default body limit.
QUOTE_MAX_BODY = 1024 * 1024


def _check_deal_visible(deal_id: str) -> None:
    """A caller who may not see every deal quotes only a deal they may see (one they may not see
    is answered as an unknown one, so ids do not leak)."""
    if read_scope("deals") is None:
        return
    try:
        deal = call(
            "deals", stub(deals_pb2_grpc.DealsServiceStub, "deals").GetDeal, deals_pb2.GetDealRequest(id=deal_id)
        )
    except UpstreamError as exc:
        if exc.info.code.name != "NOT_FOUND":
            raise
        return  # the quotes service answers for an unknown deal
    try:
        ensure_visible("deals", deal_id, deal.deal.owner_id)
    except ProblemError:
        raise ProblemError(
            400, "deal_not_found", f"deal_id: deal '{deal_id}' does not exist", field="deal_id", deal_id=deal_id
        ) from None


@res.route("GET", "/api/v1/quotes", query=QuoteFilters, response=ProtoPage(quotes_pb2.Quote))
def list_quotes(query: QuoteFilters) -> Response:
    """List the quotes the caller may see, oldest first (superseded revisions unless asked for)."""
    return QUOTES.list("ListQuotes", "quotes", query.owner_id, **query.rpc_filters())


@res.route(
    "POST",
    "/api/v1/quotes",
    body=QuoteCreate,
    response=ONE,
    status=201,
    errors=(409,),
    response_headers=("Location", "ETag"),
    request_headers=("Idempotency-Key",),
    max_body=QUOTE_MAX_BODY,
)
def create_quote(body: QuoteCreate) -> Response:
    """Create a draft quote for a deal, numbered COT-<year>-<sequence>.
    An unknown deal or product, an inactive product, a contact not of the deal, a negative quantity
    or price is a 400 naming the field; 503 when the deals service cannot answer (nothing is written)."""
    _check_deal_visible(body.deal_id)
    return QUOTES.create("CreateQuote", body, lambda i: url_for("quotes.get_quote", quote_id=i))


@res.route("POST", "/api/v1/quotes:preview", body=QuoteCreate, response=ONE, max_body=QUOTE_MAX_BODY)
def preview_quote(body: QuoteCreate) -> Response:
    """Compute the quote that the same body would create, without storing anything.
    The lines with their amounts, the subtotal, discounts, taxes per rate and the total, by the
    same rules as create (per-line half-up rounding to the currency's minor unit) and with the
    same validation (a bad line is a 400 naming its field); no id, number or version. For the
    live totals of a quote editor."""
    _check_deal_visible(body.deal_id)
    data = body.model_dump(exclude_unset=True)
    data["owner_id"] = assignable_owner(data.get("owner_id"))
    msg = from_json(quotes_pb2.Quote(), data)
    preview = call("quotes", QUOTES.stub().PreviewQuote, quotes_pb2.PreviewQuoteRequest(quote=msg))
    return respond(to_json(preview.quote))


@res.route("GET", "/api/v1/quotes/<id:quote_id>", response=ONE, errors=(404,), response_headers=("ETag",))
def get_quote(quote_id: str) -> Response:
    """Get a quote with its lines and totals (a sent quote past its validity reads as expired)."""
    return QUOTES.get(quote_id)


@res.route(
    "PATCH",
    "/api/v1/quotes/<id:quote_id>",
    body=QuotePatch,
    response=ONE,
    max_body=QUOTE_MAX_BODY,
    **CHANGE,
)
def update_quote(quote_id: str, body: QuotePatch) -> Response:
    """Update a draft quote (its owner, their manager, or an admin); a sent quote is frozen (400)."""
    nulls = sorted(k for k, v in body.model_dump(exclude_unset=True).items() if v is None)
    if nulls:
        raise ProblemError(400, "null_field", f"these fields cannot be null: {', '.join(nulls)}")
    return QUOTES.update("UpdateQuote", quote_id, body)


@res.route("DELETE", "/api/v1/quotes/<id:quote_id>", status=204, errors=(404,))
def delete_quote(quote_id: str) -> Response:
    """Delete a draft that is not a revision (its number is not reused)."""
    return QUOTES.delete("DeleteQuote", quote_id)


def _transition(rpc: str, quote_id: str, **kw: Any) -> quotes_pb2.Quote | Any:
    current = QUOTES.fetch(quote_id, for_change=True)
    expected = check_version(if_match(), current.version, "quote")
    req = getattr(quotes_pb2, f"{rpc}Request")(quote_id=quote_id, expected_version=expected, **kw)
    return call("quotes", getattr(QUOTES.stub(), rpc), req)


def _answer(quote: quotes_pb2.Quote) -> Response:
    return respond(to_json(quote), headers=etag(quote.version))


@res.route("POST", "/api/v1/quotes/<id:quote_id>:send", body=Empty, response=ONE, **CHANGE)
def send_quote(quote_id: str, body: Empty) -> Response:
    """Mark a draft as sent to the client: its content is frozen from now on."""
    return _answer(_transition("SendQuote", quote_id).quote)


@res.route("POST", "/api/v1/quotes/<id:quote_id>:accept", body=Empty, response=ONE, **CHANGE)
def accept_quote(quote_id: str, body: Empty) -> Response:
    """Record the client's acceptance of a sent quote still within its validity.
    The deal takes the quote's total as its amount. An expired quote is a 400 (quote_expired)."""
    return _answer(_transition("AcceptQuote", quote_id).quote)


@res.route("POST", "/api/v1/quotes/<id:quote_id>:reject", body=RejectIn, response=ONE, **CHANGE)
def reject_quote(quote_id: str, body: RejectIn) -> Response:
    """Record the client's rejection of a sent quote, with the reason given."""
    return _answer(_transition("RejectQuote", quote_id, reason=body.reason).quote)


@res.route(
    "POST",
    "/api/v1/quotes/<id:quote_id>:revise",
    body=Empty,
    response=ONE,
    status=201,
    errors=(404, 409, 412),
    request_headers=("If-Match",),
    response_headers=("Location", "ETag"),
)
def revise_quote(quote_id: str, body: Empty) -> Response:
    """Supersede a sent, rejected or expired quote with a new draft revision (COT-2026-0007-R1).
    The answer is the new revision; the old quote becomes superseded."""
    revision = _transition("ReviseQuote", quote_id).quote
    location = url_for("quotes.get_quote", quote_id=revision.id)
    return respond(to_json(revision), 201, {"Location": location, **etag(revision.version)})


@res.route("GET", "/api/v1/quotes/<id:quote_id>/pdf", query=PdfQuery, content_type="application/pdf", errors=(404,))
def quote_pdf(quote_id: str, query: PdfQuery) -> Response:
    """The quote as a printable PDF proposal (Spanish unless locale=en)."""
    QUOTES.fetch(quote_id)
    req = quotes_pb2.RenderQuotePdfRequest(quote_id=quote_id, locale=query.locale or "")
    rendered = call("quotes", QUOTES.stub().RenderQuotePdf, req)
    return Response(
        rendered.pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{rendered.filename}"'},
    )
