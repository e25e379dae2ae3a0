"""The deals service reacting to other services' events over a real nats-server: an accepted quote
sets its deal's amount (and wins it where the pipeline says so) exactly once however often it is
delivered, and a prospect conversion that asked for a deal opens exactly one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy import select

from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import deals_pb2, events_pb2
from crm.quotes.v1 import events_pb2 as quotes_events
from crm.quotes.v1 import quotes_pb2
from crm_platform.consumer import _Delivery
from crm_platform.eventbus import subject_for
from crm_platform.tables import outbox_events, processed_events
from crm_platform.testing import publish_events, wait_for_event

from .conftest import OWNER, DealsWorld


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _accepted(deal_id: str, total: str, currency: str = "USD", quote_id: str = "") -> quotes_events.QuoteAccepted:
    quote = quotes_pb2.Quote(
        id=quote_id or str(uuid.uuid4()),
        number="COT-2026-0007",
        deal_id=deal_id,
        owner_id=OWNER,
        currency_code=currency,
        total=types_pb2.Money(amount=total, currency_code=currency),
        status=quotes_pb2.QUOTE_STATUS_ACCEPTED,
    )
    return quotes_events.QuoteAccepted(
        meta=types_pb2.EventMeta(event_id=str(uuid.uuid4()), producer="quotes", actor_user_id=OWNER), quote=quote
    )


def _events_of(world: DealsWorld, event_class: type) -> int:
    assert world.deals.db is not None
    with world.deals.db.read() as s:
        return len(
            list(s.scalars(select(outbox_events.c.id).where(outbox_events.c.subject == subject_for(event_class))))
        )


def _processed(world: DealsWorld, event_id: str) -> bool:
    assert world.deals.db is not None
    with world.deals.db.read() as s:
        return s.scalar(select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)) is not None


def _deal(world: DealsWorld, deal_id: str) -> deals_pb2.Deal:
    return world.stub.GetDeal(deals_pb2.GetDealRequest(id=deal_id), timeout=5).deal


def test_a_quote_accepted_twice_updates_its_deal_once(world: DealsWorld) -> None:
    deal = world.create(world.client().id, amount=types_pb2.Money(amount="1000", currency_code="USD"))
    event = _accepted(deal.id, "1234.565")
    publish_events(world.nats_url, [event, event])  # a relay retry: the same event id twice
    _eventually(lambda: _deal(world, deal.id).version == 2)
    updated = _deal(world, deal.id)
    assert updated.amount.amount == "1234.57" and updated.amount.currency_code == "USD"
    assert updated.accepted_quote_id == event.quote.id and updated.status == deals_pb2.DEAL_STATUS_OPEN

    # A redelivery the consumer sees again (e.g. its ack was lost), handled on the real database.
    consumer = next(c for c in world.deals.consumers if c.source == "quotes")
    delivery = _Delivery(subject_for(event), event.meta.event_id, event.SerializeToString(), 2)
    assert consumer.process_batch([delivery, delivery]) == [("duplicate", 2), ("duplicate", 2)]
    # The producer publishing the same acceptance under a new event id changes nothing either.
    again = quotes_events.QuoteAccepted()
    again.CopyFrom(event)
    again.meta.event_id = str(uuid.uuid4())
    publish_events(world.nats_url, [again])
    _eventually(lambda: _processed(world, again.meta.event_id))
    assert _deal(world, deal.id).version == 2
    assert _events_of(world, events_pb2.DealUpdated) == 1
    published = wait_for_event(world.nats_url, events_pb2.DealUpdated, lambda e: e.deal.id == deal.id)
    assert list(published.changed_fields) == ["amount", "accepted_quote_id"]
    assert published.previous_amount.amount == "1000.00" and published.deal.amount.amount == "1234.57"


def test_an_accepted_quote_wins_the_deal_where_the_pipeline_says_so(world: DealsWorld) -> None:
    pipeline = world.stub.CreatePipeline(
        deals_pb2.CreatePipelineRequest(pipeline=deals_pb2.Pipeline(name="Licitaciones", win_on_quote_accepted=True)),
        timeout=5,
    ).pipeline
    deal = world.create(world.client().id, pipeline_id=pipeline.id)
    event = _accepted(deal.id, "52000000", "COP")
    publish_events(world.nats_url, [event])
    _eventually(lambda: _deal(world, deal.id).status == deals_pb2.DEAL_STATUS_WON)
    won = _deal(world, deal.id)
    assert won.amount.amount == "52000000" and won.stage_id == pipeline.stages[-2].id and won.probability == 100
    assert won.stage_history[-1].moved_by == ""  # the system moved it, not a user
    published = wait_for_event(world.nats_url, events_pb2.DealWon, lambda e: e.deal.id == deal.id)
    assert published.deal.amount.amount == "52000000" and published.deal.accepted_quote_id == event.quote.id
    again = quotes_events.QuoteAccepted()
    again.CopyFrom(event)
    again.meta.event_id = str(uuid.uuid4())
    unknown = _accepted(str(uuid.uuid4()), "1")  # and one for a deal that does not exist
    publish_events(world.nats_url, [again, unknown])
    _eventually(lambda: _processed(world, unknown.meta.event_id))
    assert _deal(world, deal.id).version == won.version
    assert _events_of(world, events_pb2.DealWon) == 1


def test_a_conversion_that_asks_for_a_deal_opens_exactly_one(world: DealsWorld) -> None:
    made = world.contacts_stub.CreateProspect(
        contacts_pb2.CreateProspectRequest(
            prospect=contacts_pb2.Prospect(
                company_name="Cafés Añoranza",
                first_name="Íñigo",
                last_name="Peña",
                owner_id=OWNER,
                source=contacts_pb2.PROSPECT_SOURCE_TRADE_FAIR,
                source_campaign_id=str(uuid.uuid4()),
            )
        ),
        timeout=5,
    ).prospect
    plain = world.contacts_stub.CreateProspect(
        contacts_pb2.CreateProspectRequest(prospect=contacts_pb2.Prospect(company_name="Sin Negocio", owner_id=OWNER)),
        timeout=5,
    ).prospect
    world.contacts_stub.ConvertProspect(contacts_pb2.ConvertProspectRequest(prospect_id=plain.id), timeout=5)
    req = contacts_pb2.ConvertProspectRequest(
        prospect_id=made.id,
        open_deal=True,
        deal_title="Café para oficinas",
        deal_amount=types_pb2.Money(amount="4500000", currency_code="COP"),
    )
    converted = world.contacts_stub.ConvertProspect(req, timeout=5)
    world.contacts_stub.ConvertProspect(req, timeout=5)  # converting again creates nothing more

    def deals_of(client_id: str) -> list[deals_pb2.Deal]:
        return list(world.stub.ListDeals(deals_pb2.ListDealsRequest(client_id=client_id), timeout=5).deals)

    _eventually(lambda: len(deals_of(converted.client.id)) == 1)
    deal = deals_of(converted.client.id)[0]
    assert deal.title == "Café para oficinas" and deal.amount.amount == "4500000" and deal.owner_id == OWNER
    assert list(deal.contact_ids) == [converted.contact.id] and deal.source_prospect_id == made.id
    assert deal.source_campaign_id == made.source_campaign_id
    assert deal.stage_id == world.default_pipeline().stages[0].id
    created = wait_for_event(world.nats_url, events_pb2.DealCreated, lambda e: e.deal.id == deal.id)
    assert created.deal.source_prospect_id == made.id

    def prospect() -> contacts_pb2.Prospect:
        return world.contacts_stub.GetProspect(contacts_pb2.GetProspectRequest(id=made.id), timeout=5).prospect

    # The contacts service hears of the deal and the prospect leads to it.
    _eventually(lambda: prospect().converted_deal_id == deal.id)

    # The same conversion seen again under another event id opens nothing more.
    event = wait_for_event(world.nats_url, contacts_events.ProspectConverted, lambda e: e.prospect.id == made.id)
    event.meta.event_id = str(uuid.uuid4())
    publish_events(world.nats_url, [event])
    _eventually(lambda: _processed(world, event.meta.event_id))
    assert len(deals_of(converted.client.id)) == 1
    plain_client = world.contacts_stub.GetProspect(contacts_pb2.GetProspectRequest(id=plain.id), timeout=5)
    assert deals_of(plain_client.prospect.converted_client_id) == []
