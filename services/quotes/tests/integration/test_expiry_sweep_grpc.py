"""The expiry sweep as the running service has it (CRM_QUOTES_EXPIRY_SWEEP_SECONDS): once a sent
quote's validity has ended it is stored as expired and quote_expired is published exactly once,
however many times the sweep runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from crm.common.v1 import types_pb2
from crm.quotes.v1 import events_pb2, quotes_pb2
from crm_platform.eventbus import subject_for
from crm_platform.nats_server import NatsServer
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events
from crm_platform.testing import wait_for_event
from crm_quotes.adapters.tables import quotes
from crm_quotes.bootstrap import spec
from crm_quotes.settings import QuotesSettings

from .conftest import Clock, FakeContacts, FakeDeals, QuotesWorld, stub_for


def test_the_running_sweep_stores_expiry_and_publishes_it_once(
    start_service: Callable[..., ServiceRuntime], database_url: str, nats_server: NatsServer
) -> None:
    deals, clock = FakeDeals(), Clock()
    settings = QuotesSettings(expiry_sweep_seconds=0.1)
    runtime = start_service(spec(deals, FakeContacts(), settings, clock), database_url)
    world = QuotesWorld(runtime, stub_for(runtime), deals, FakeContacts(), clock, database_url)
    quote = world.quote(valid_until=types_pb2.Date(year=2026, month=3, day=4))
    world.stub.SendQuote(quotes_pb2.SendQuoteRequest(quote_id=quote.id), timeout=5)
    sweep = runtime.background[0]

    def after_sweeps(count: int) -> None:
        """Waits (bounded) until `count` more sweeps have finished."""
        target, deadline = sweep.runs + count, time.monotonic() + 20  # type: ignore[attr-defined]
        while sweep.runs < target:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the sweep did not run"
            time.sleep(0.02)

    after_sweeps(2)  # nothing is due yet
    assert runtime.db is not None
    with runtime.db.read() as s:
        assert s.scalar(select(quotes.c.status).where(quotes.c.id == quote.id)) == "sent"
    clock.advance(days=3)
    event = wait_for_event(nats_server.url, events_pb2.QuoteExpired, lambda e: e.quote.id == quote.id)
    assert event.quote.status == quotes_pb2.QUOTE_STATUS_EXPIRED and event.quote.deal_id == quote.deal_id
    after_sweeps(3)
    clock.advance(days=1)
    after_sweeps(2)
    with runtime.db.read() as s:
        assert s.scalar(select(quotes.c.status).where(quotes.c.id == quote.id)) == "expired"
        published = list(
            s.scalars(select(outbox_events.c.id).where(outbox_events.c.subject == subject_for(events_pb2.QuoteExpired)))
        )
    assert len(published) == 1
    assert world.stub.GetQuote(quotes_pb2.GetQuoteRequest(id=quote.id)).quote.expire_time.ToDatetime() == (
        event.quote.expire_time.ToDatetime()
    )
    assert timedelta(0) < clock.now - event.quote.expire_time.ToDatetime().replace(tzinfo=clock.now.tzinfo)
