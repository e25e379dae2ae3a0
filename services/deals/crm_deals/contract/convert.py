"""Translation between protobuf messages and the pipeline and deal domain objects (the only place
that knows both)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation

from crm.common.v1 import types_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import deals_pb2, events_pb2
from crm.quotes.v1 import events_pb2 as quotes_events
from crm_deals.domain.deals import (
    Deal,
    DealStatus,
    DealView,
    LineItem,
    ProductFigures,
    ProspectConversion,
    QuoteAcceptance,
    QuoteLine,
    sales_cycle,
    time_in_stages,
)
from crm_deals.domain.pipelines import Pipeline, Stage, StageKind
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.protoconv import EnumMap, date_from_proto, date_to_proto, timestamp

STAGE_KINDS = EnumMap(
    "stage kind",
    {
        StageKind.OPEN: deals_pb2.STAGE_KIND_OPEN,
        StageKind.WON: deals_pb2.STAGE_KIND_WON,
        StageKind.LOST: deals_pb2.STAGE_KIND_LOST,
    },
)
DEAL_STATUSES = EnumMap(
    "deal status",
    {
        DealStatus.OPEN: deals_pb2.DEAL_STATUS_OPEN,
        DealStatus.WON: deals_pb2.DEAL_STATUS_WON,
        DealStatus.LOST: deals_pb2.DEAL_STATUS_LOST,
    },
)


def stage_kind_from_proto(value: int, field: str = "stage.kind") -> StageKind:
    """STAGE_KIND_UNSPECIFIED is an open stage; InvalidArgument for a number the contract lacks."""
    return STAGE_KINDS.from_proto(value, field) or StageKind.OPEN


def deal_status_from_proto(value: int, field: str = "status") -> DealStatus | None:
    return DEAL_STATUSES.from_proto(value, field)


def stage_to_proto(stage: Stage) -> deals_pb2.Stage:
    return deals_pb2.Stage(
        id=stage.id,
        name=stage.name,
        default_probability=stage.default_probability,
        kind=STAGE_KINDS.to_proto(stage.kind),
    )


def stage_from_proto(msg: deals_pb2.Stage, field: str = "stage") -> Stage:
    return Stage(msg.id, msg.name, msg.default_probability, stage_kind_from_proto(msg.kind, f"{field}.kind"))


def pipeline_to_proto(p: Pipeline) -> deals_pb2.Pipeline:
    return deals_pb2.Pipeline(
        id=p.id,
        name=p.name,
        stages=[stage_to_proto(s) for s in p.stages],
        is_default=p.is_default,
        win_on_quote_accepted=p.win_on_quote_accepted,
        create_time=timestamp(p.created_at),
        update_time=timestamp(p.updated_at),
        version=p.version,
    )


def pipeline_from_proto(msg: deals_pb2.Pipeline) -> Pipeline:
    return Pipeline(
        id=msg.id,
        name=msg.name,
        stages=tuple(stage_from_proto(s, f"pipeline.stages[{i}]") for i, s in enumerate(msg.stages)),
        is_default=msg.is_default,
        win_on_quote_accepted=msg.win_on_quote_accepted,
    )


def _decimal(text: str, field: str, problems: list[FieldViolation]) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        problems.append(FieldViolation(field, f"'{text[:40]}' is not a decimal number"))
        return Decimal(0)
    if not value.is_finite():
        problems.append(FieldViolation(field, "must be a finite number"))
        return Decimal(0)
    return value


def deal_from_proto(msg: deals_pb2.Deal, default_currency: str) -> Deal:
    """The deal a request describes. With no amount at all it is zero in `default_currency`; a
    malformed number is InvalidArgument naming its field."""
    problems: list[FieldViolation] = []
    if msg.HasField("amount") and (msg.amount.amount or msg.amount.currency_code):
        amount = _decimal(msg.amount.amount or "0", "deal.amount.amount", problems)
        currency = msg.amount.currency_code
    else:
        amount, currency = Decimal(0), default_currency
    items = tuple(
        LineItem(item.product_id.strip(), _decimal(item.quantity or "1", f"deal.line_items[{i}].quantity", problems))
        for i, item in enumerate(msg.line_items)
    )
    close = date_from_proto(msg, "expected_close_date", "deal.expected_close_date")
    if problems:
        raise InvalidArgument(problems)
    return Deal(
        id=msg.id,
        title=msg.title,
        client_id=msg.client_id.strip(),
        owner_id=msg.owner_id.strip(),
        amount=amount,
        currency_code=currency,
        line_items=items,
        contact_ids=tuple(c.strip() for c in msg.contact_ids),
        pipeline_id=msg.pipeline_id.strip(),
        stage_id=msg.stage_id.strip(),
        probability=msg.probability or None,
        expected_close_date=close,
        source_campaign_id=msg.source_campaign_id.strip(),
    )


def money(amount: Decimal, currency: str) -> types_pb2.Money:
    return types_pb2.Money(amount=format(amount, "f"), currency_code=currency)


def deal_to_proto(d: Deal, closed_stage_ids: Collection[str], now: datetime) -> deals_pb2.Deal:
    """The deal as the API shows it, with the time in each stage counted up to `now`."""
    cycle = sales_cycle(d)
    return deals_pb2.Deal(
        id=d.id,
        title=d.title,
        line_items=[
            deals_pb2.DealLineItem(product_id=i.product_id, quantity=format(i.quantity.normalize(), "f"))
            for i in d.line_items
        ],
        client_id=d.client_id,
        contact_ids=list(d.contact_ids),
        amount=money(d.amount, d.currency_code),
        owner_id=d.owner_id,
        pipeline_id=d.pipeline_id,
        stage_id=d.stage_id,
        probability=d.probability or 0,
        expected_close_date=date_to_proto(d.expected_close_date),
        source_campaign_id=d.source_campaign_id,
        status=DEAL_STATUSES.to_proto(d.status),
        lost_reason=d.lost_reason,
        won_time=timestamp(d.won_at),
        lost_time=timestamp(d.lost_at),
        stage_history=[
            deals_pb2.StageHistoryEntry(
                from_stage_id=h.from_stage_id,
                to_stage_id=h.to_stage_id,
                moved_by=h.moved_by,
                move_time=timestamp(h.moved_at),
            )
            for h in d.stage_history
        ],
        accepted_quote_id=d.accepted_quote_id,
        create_time=timestamp(d.created_at),
        update_time=timestamp(d.updated_at),
        version=d.version,
        stage_times=[
            deals_pb2.StageTime(stage_id=t.stage_id, seconds=t.seconds)
            for t in time_in_stages(d, closed_stage_ids, now)
        ],
        sales_cycle_seconds=int(cycle.total_seconds()) if cycle is not None else 0,
        source_prospect_id=d.source_prospect_id,
    )


def deal_view_to_proto(view: DealView) -> deals_pb2.Deal:
    return deal_to_proto(view.deal, view.closed_stage_ids, view.at)


def product_figures_to_proto(product_id: str, figures: ProductFigures | None) -> deals_pb2.ProductDealFigures:
    """One product's figures (amounts already rounded); zeros when no deal names it."""
    entry = deals_pb2.ProductDealFigures(product_id=product_id)
    if figures is not None:
        entry.deal_count = figures.deal_count
        entry.open_deal_count = figures.open_deal_count
        entry.won_deal_count = figures.won_deal_count
        entry.won_amounts.extend(money(v, c) for c, v in sorted(figures.won_amounts.items()))
    return entry


# --- Integration events this service publishes -----------------------------------------------


def pipeline_created(p: Pipeline) -> events_pb2.PipelineCreated:
    return events_pb2.PipelineCreated(pipeline=pipeline_to_proto(p))


def pipeline_updated(p: Pipeline, changed_fields: Sequence[str]) -> events_pb2.PipelineUpdated:
    return events_pb2.PipelineUpdated(pipeline=pipeline_to_proto(p), changed_fields=changed_fields)


def pipeline_deleted(p: Pipeline) -> events_pb2.PipelineDeleted:
    return events_pb2.PipelineDeleted(pipeline=pipeline_to_proto(p))


def deal_created(view: DealView) -> events_pb2.DealCreated:
    return events_pb2.DealCreated(deal=deal_view_to_proto(view))


def deal_updated(view: DealView, changed_fields: Sequence[str], before: Deal) -> events_pb2.DealUpdated:
    """deal_updated; with the amount `before` had when the amount changed."""
    event = events_pb2.DealUpdated(deal=deal_view_to_proto(view), changed_fields=changed_fields)
    if "amount" in changed_fields:
        event.previous_amount.CopyFrom(money(before.amount, before.currency_code))
    return event


def deal_deleted(view: DealView) -> events_pb2.DealDeleted:
    return events_pb2.DealDeleted(deal=deal_view_to_proto(view))


def deal_stage_changed(
    view: DealView, from_stage_id: str, previous_probability: int | None
) -> events_pb2.DealStageChanged:
    return events_pb2.DealStageChanged(
        deal=deal_view_to_proto(view),
        from_stage_id=from_stage_id,
        to_stage_id=view.deal.stage_id,
        previous_probability=previous_probability or 0,
    )


def deal_won(view: DealView, from_stage_id: str) -> events_pb2.DealWon:
    return events_pb2.DealWon(deal=deal_view_to_proto(view), from_stage_id=from_stage_id)


def deal_lost(view: DealView, from_stage_id: str) -> events_pb2.DealLost:
    return events_pb2.DealLost(deal=deal_view_to_proto(view), from_stage_id=from_stage_id)


def deal_reopened(view: DealView, previous_status: DealStatus, from_stage_id: str) -> events_pb2.DealReopened:
    return events_pb2.DealReopened(
        deal=deal_view_to_proto(view),
        previous_status=DEAL_STATUSES.to_proto(previous_status),
        from_stage_id=from_stage_id,
    )


# --- Integration events this service consumes ------------------------------------------------


def quote_acceptance_from_proto(event: quotes_events.QuoteAccepted) -> QuoteAcceptance:
    quote = event.quote
    return QuoteAcceptance(
        quote_id=quote.id,
        number=quote.number,
        deal_id=quote.deal_id,
        total_amount=quote.total.amount,
        total_currency_code=quote.total.currency_code,
        lines=tuple(QuoteLine(line.product_id, line.quantity) for line in quote.lines),
    )


def prospect_conversion_from_proto(event: contacts_events.ProspectConverted) -> ProspectConversion:
    prospect = event.prospect
    amount = (
        (event.deal_amount.amount, event.deal_amount.currency_code)
        if event.HasField("deal_amount") and event.deal_amount.currency_code
        else None
    )
    return ProspectConversion(
        open_deal=event.open_deal,
        prospect_id=prospect.id,
        first_name=prospect.first_name,
        last_name=prospect.last_name,
        company_name=prospect.company_name,
        owner_id=prospect.owner_id,
        source_campaign_id=prospect.source_campaign_id,
        deal_title=event.deal_title,
        deal_amount=amount,
        client_id=event.client_id,
        contact_id=event.contact_id,
        actor_user_id=event.meta.actor_user_id,
    )
