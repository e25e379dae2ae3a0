"""The campaigns service's durable consumer of the deals service's events: the deals whose source
is a campaign (opened, won, lost, reopened, deleted) kept in a small table the results count."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm_campaigns.adapters import repository as repo
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, UnitOfWork
from crm_platform.outbox import utcnow

_STATUS = {deals_pb2.DEAL_STATUS_OPEN: "open", deals_pb2.DEAL_STATUS_WON: "won", deals_pb2.DEAL_STATUS_LOST: "lost"}


def _record(uow: UnitOfWork, deal: deals_pb2.Deal, *, deleted: bool) -> None:
    """The deal as the event carries it, kept unless a newer version is already stored. A deal
    without a source campaign (cleared) or deleted stays as a row that counts for no campaign."""
    repo.record_deal(
        uow.session,
        deal.id,
        campaign_id=deal.source_campaign_id,
        status=_STATUS.get(deal.status, "open"),
        amount=Decimal(deal.amount.amount or "0"),
        currency=deal.amount.currency_code or "XXX",
        # A delete outranks every event of the version it deleted.
        version=deal.version + 1 if deleted else deal.version,
        counted=bool(deal.source_campaign_id) and not deleted,
        at=utcnow(),
    )


def _deal_changed(uow: UnitOfWork, event: Any) -> None:
    _record(uow, event.deal, deleted=False)


def _deal_deleted(uow: UnitOfWork, event: Any) -> None:
    _record(uow, event.deal, deleted=True)


def consumers(db: Database) -> list[EventConsumer]:
    consumer = EventConsumer(db, "deals", "deals")
    for event_class in (
        deals_events.DealCreated,
        deals_events.DealUpdated,
        deals_events.DealStageChanged,
        deals_events.DealWon,
        deals_events.DealLost,
        deals_events.DealReopened,
    ):
        consumer.on(event_class, _deal_changed)
    consumer.on(deals_events.DealDeleted, _deal_deleted)
    return [consumer]
