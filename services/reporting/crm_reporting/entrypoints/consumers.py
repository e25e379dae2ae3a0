"""The reporting service's durable consumers: one per producing service (identity, contacts, deals,
quotes, campaigns), each event type projected in batches into the read models
(adapters/read_models.py), with rm_streams counting what was applied. The same consumers serve the
rebuild (service_layer/rebuild.py), which replays every stream through them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm.campaigns.v1 import events_pb2 as campaigns_events
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import events_pb2 as deals_events
from crm.identity.v1 import events_pb2 as identity_events
from crm.quotes.v1 import events_pb2 as quotes_events
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database, UnitOfWork
from crm_reporting.adapters import read_models as rm
from crm_reporting.adapters import tables as t

Projector = Callable[[Session, Sequence[Any]], None]

# Every consumed stream, in the order a rebuild replays them (owners and teams first).
SOURCES = ("identity", "contacts", "deals", "quotes", "campaigns")


def _deleted_pipelines(session: Session, events: Sequence[Any]) -> None:
    rm.project_pipelines(session, events, deleted=True)


def projectors() -> dict[str, list[tuple[type[Message], Projector]]]:
    """Per source service: each event type and the projector that writes it."""
    users = rm.rows_projector(t.rm_users, rm.user_row)
    teams = rm.rows_projector(t.rm_teams, rm.team_row)
    clients = rm.rows_projector(t.rm_clients, rm.client_row)
    contacts = rm.rows_projector(t.rm_contacts, rm.contact_row)
    prospects = rm.rows_projector(t.rm_prospects, rm.prospect_row)
    deals = rm.rows_projector(t.rm_deals, rm.deal_row)
    activities = rm.rows_projector(t.rm_activities, rm.activity_row)
    products = rm.rows_projector(t.rm_products, rm.product_row)
    quotes = rm.rows_projector(t.rm_quotes, rm.quote_row)
    campaigns = rm.rows_projector(t.rm_campaigns, rm.campaign_row)
    i, c, d, q, k = identity_events, contacts_events, deals_events, quotes_events, campaigns_events
    return {
        "identity": [
            (i.UserCreated, users),
            (i.UserUpdated, users),
            (i.UserDeactivated, users),
            (i.TeamCreated, teams),
            (i.TeamUpdated, teams),
            (i.TeamDeleted, rm.rows_projector(t.rm_teams, rm.team_row, deleted=True)),
        ],
        "contacts": [
            (c.ClientCreated, clients),
            (c.ClientUpdated, clients),
            (c.ClientArchived, clients),
            (c.ClientDeleted, rm.id_tombstones(t.rm_clients, "client_id")),
            (c.ContactCreated, contacts),
            (c.ContactUpdated, contacts),
            (c.ContactArchived, contacts),
            (c.ContactDeleted, rm.id_tombstones(t.rm_contacts, "contact_id")),
            (c.ProspectCreated, prospects),
            (c.ProspectUpdated, prospects),
            (c.ProspectArchived, prospects),
            (c.ProspectConverted, prospects),
            (c.ProspectDeleted, rm.id_tombstones(t.rm_prospects, "prospect_id")),
        ],
        "deals": [
            (d.PipelineCreated, rm.project_pipelines),
            (d.PipelineUpdated, rm.project_pipelines),
            (d.PipelineDeleted, _deleted_pipelines),
            (d.DealCreated, deals),
            (d.DealUpdated, deals),
            (d.DealStageChanged, deals),
            (d.DealWon, deals),
            (d.DealLost, deals),
            (d.DealReopened, deals),
            (d.DealDeleted, rm.rows_projector(t.rm_deals, rm.deal_row, deleted=True)),
            (d.ActivityScheduled, activities),
            (d.ActivityUpdated, activities),
            (d.ActivityCompleted, activities),
            (d.ActivityCancelled, activities),
            (d.ActivityDeleted, rm.rows_projector(t.rm_activities, rm.activity_row, deleted=True)),
        ],
        "quotes": [
            (q.ProductCreated, products),
            (q.ProductUpdated, products),
            (q.ProductPriceChanged, products),
            (q.ProductDeleted, rm.rows_projector(t.rm_products, rm.product_row, deleted=True)),
            (q.QuoteCreated, quotes),
            (q.QuoteUpdated, quotes),
            (q.QuoteSent, quotes),
            (q.QuoteAccepted, quotes),
            (q.QuoteRejected, quotes),
            (q.QuoteExpired, quotes),
            (q.QuoteSuperseded, quotes),
            (q.QuoteDeleted, rm.rows_projector(t.rm_quotes, rm.quote_row, deleted=True)),
        ],
        "campaigns": [
            (k.CampaignCreated, campaigns),
            (k.CampaignUpdated, campaigns),
            (k.CampaignLaunched, campaigns),
            (k.CampaignCompleted, campaigns),
            (k.CampaignCancelled, campaigns),
            (k.CampaignDeleted, rm.rows_projector(t.rm_campaigns, rm.campaign_row, deleted=True)),
            (k.LeadCaptured, rm.project_leads),
            (k.SpendRecorded, rm.project_spends),
        ],
    }


def _handler(stream: str, project: Projector) -> Callable[[UnitOfWork, list[Any]], None]:
    def handle(uow: UnitOfWork, events: list[Any]) -> None:
        project(uow.session, events)
        rm.record_applied(uow.session, stream, events)

    return handle


def consumer_for(db: Database, source: str, *, batch_size: int = 512) -> EventConsumer:
    """The durable consumer `reporting-<source>` of one producing service's stream."""
    consumer = EventConsumer(db, source, source, batch_size=batch_size)
    for event_class, project in projectors()[source]:
        consumer.on_batch(event_class, _handler(source, project))
    return consumer


def consumers(db: Database) -> list[EventConsumer]:
    return [consumer_for(db, source) for source in SOURCES]
