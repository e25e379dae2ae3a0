"""How the projectors turn the services' records into read-model rows (no I/O): statuses as words,
money in minor units, the instant a closed deal counts in, the sales cycle, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime

from crm.common.v1 import types_pb2
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm.quotes.v1 import events_pb2 as quotes_events
from crm.quotes.v1 import quotes_pb2
from crm_reporting.adapters import read_models as rm


def _meta(when: datetime) -> types_pb2.EventMeta:
    meta = types_pb2.EventMeta(event_id="e1")
    meta.occurred_at.FromDatetime(when)
    return meta


def test_a_won_deal_counts_when_it_was_won() -> None:
    created, won = datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 31, 12, tzinfo=UTC)
    deal = deals_pb2.Deal(id="d1", owner_id="u1", status=deals_pb2.DEAL_STATUS_WON, version=4, probability=100)
    deal.amount.CopyFrom(types_pb2.Money(amount="1234.5", currency_code="USD"))
    deal.create_time.FromDatetime(created)
    deal.won_time.FromDatetime(won)
    deal.lost_time.FromDatetime(datetime(2025, 1, 1, tzinfo=UTC))  # a stale loss before a reopening
    row = rm.deal_row(deals_events.DealWon(meta=_meta(won), deal=deal))
    assert (row["status"], row["currency_code"], row["amount_minor"]) == ("won", "USD", 123_450)
    assert row["closed_at"] == won and row["lost_at"] is None
    assert row["sales_cycle_seconds"] == 30 * 86_400  # computed when the record carries none
    assert (row["version"], row["deleted"], row["event_time"]) == (4, False, won)


def test_an_open_deal_has_no_closing_instant_and_a_deletion_is_a_tombstone() -> None:
    deal = deals_pb2.Deal(id="d2", status=deals_pb2.DEAL_STATUS_OPEN, version=2, sales_cycle_seconds=99)
    deal.amount.CopyFrom(types_pb2.Money(amount="500", currency_code="CLP"))
    row = rm.deal_row(deals_events.DealDeleted(meta=_meta(datetime(2026, 2, 1, tzinfo=UTC)), deal=deal), True)
    assert (row["status"], row["closed_at"], row["sales_cycle_seconds"]) == ("open", None, 0)
    assert (row["amount_minor"], row["deleted"]) == (500, True)


def test_a_decided_quote_counts_when_it_was_decided() -> None:
    accepted = datetime(2026, 3, 3, tzinfo=UTC)
    quote = quotes_pb2.Quote(id="q1", status=quotes_pb2.QUOTE_STATUS_ACCEPTED, currency_code="USD", version=3)
    quote.total.CopyFrom(types_pb2.Money(amount="99.90", currency_code="USD"))
    quote.accept_time.FromDatetime(accepted)
    row = rm.quote_row(quotes_events.QuoteAccepted(meta=_meta(accepted), quote=quote))
    assert (row["status"], row["decided_at"], row["total_minor"]) == ("accepted", accepted, 9990)
