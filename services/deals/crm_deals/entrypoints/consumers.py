"""The deals service's durable consumers: the quotes service's events (an accepted quote updates
its deal) and the contacts service's (a conversion that asked for a deal opens one)."""

from __future__ import annotations

from crm.contacts.v1 import events_pb2 as contacts_events
from crm.quotes.v1 import events_pb2 as quotes_events
from crm_deals.contract.convert import prospect_conversion_from_proto, quote_acceptance_from_proto
from crm_deals.service_layer import reactions
from crm_platform.consumer import EventConsumer
from crm_platform.db import Database


def consumers(db: Database, default_currency: str) -> list[EventConsumer]:
    return [
        EventConsumer(db, "quotes", "quotes").on(
            quotes_events.QuoteAccepted,
            lambda uow, event: reactions.on_quote_accepted(uow, quote_acceptance_from_proto(event)),
        ),
        EventConsumer(db, "contacts", "contacts").on(
            contacts_events.ProspectConverted,
            lambda uow, event: reactions.on_prospect_converted(
                uow, prospect_conversion_from_proto(event), default_currency
            ),
        ),
    ]
