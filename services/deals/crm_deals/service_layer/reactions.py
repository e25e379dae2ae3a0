"""How the deals service reacts to other services' events. Each handler runs inside the
consumer's unit of work (crm_platform.consumer: the event id is recorded as processed in the
same transaction, so a redelivered event changes nothing) and is idempotent on its own as well:
the same quote accepted twice, or a conversion seen twice under different event ids, changes the
deal once."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

from crm_deals.adapters import deal_repository as repository
from crm_deals.contract import convert
from crm_deals.domain.deals import (
    MAX_LINE_ITEMS,
    Deal,
    DealStatus,
    LineItem,
    ProspectConversion,
    QuoteAcceptance,
    QuoteLine,
)
from crm_deals.service_layer.deals import open_deal, view, win
from crm_deals.service_layer.pipelines import utc_now
from crm_platform.db import UnitOfWork
from crm_platform.money import parse_amount, parse_currency, round_amount

log = logging.getLogger(__name__)


def on_quote_accepted(uow: UnitOfWork, quote: QuoteAcceptance) -> None:
    """The quote's deal takes the quote's total as its amount (in the quote's currency), the
    quote's lines as its line items (what it sells: each catalogue product once, its quantities
    summed; free-text lines name no product) and remembers the quote; when the deal's pipeline
    says so (win_on_quote_accepted) an open deal is also won. A deal that no longer exists is
    skipped. The same quote seen again finds nothing to change."""
    if not quote.deal_id:
        return
    deal = repository.get_deal(uow.session, quote.deal_id, for_update=True)
    if deal is None:
        log.warning("quote %s accepted for deal %s, which does not exist: skipped", quote.number, quote.deal_id)
        return
    currency = parse_currency(quote.total_currency_code, "quote.total.currency_code")
    amount = round_amount(parse_amount(quote.total_amount or "0", "quote.total.amount"), currency)
    items = _line_items(quote.lines)
    pipeline = repository.current_pipeline(uow.session, deal.pipeline_id)
    assert pipeline is not None
    at = utc_now()
    changed = [
        name
        for name, same in (
            ("amount", (deal.amount, deal.currency_code) == (amount, currency)),
            ("line_items", deal.line_items == items),
            ("accepted_quote_id", deal.accepted_quote_id == quote.quote_id),
        )
        if not same
    ]
    current: Deal = deal
    if changed:
        after = replace(deal, amount=amount, currency_code=currency, line_items=items, accepted_quote_id=quote.quote_id)
        current = replace(after, updated_at=at, version=deal.version + 1)
        if not repository.save_deal(uow.session, deal, current):
            raise RuntimeError(f"deal {deal.id} changed under its row lock")  # the consumer retries the event
        uow.add_event(convert.deal_updated(view(current, pipeline, at), changed, deal))
    if pipeline.win_on_quote_accepted and current.status is DealStatus.OPEN:
        win(uow, current, pipeline, "", at)  # the system moved it (moved_by empty)


def _line_items(lines: tuple[QuoteLine, ...]) -> tuple[LineItem, ...]:
    """The quote's catalogue products in the order they first appear, each with its quantities
    summed (a deal names a product once), at most as many as a deal holds."""
    quantities: dict[str, Decimal] = {}
    for line in lines:
        if line.product_id:
            quantities[line.product_id] = quantities.get(line.product_id, Decimal(0)) + Decimal(line.quantity or "0")
    items = [LineItem(pid, qty.normalize()) for pid, qty in quantities.items() if qty > 0]
    return tuple(items[:MAX_LINE_ITEMS])


def on_prospect_converted(uow: UnitOfWork, event: ProspectConversion, default_currency: str) -> None:
    """A conversion that asked for a deal opens one for the new client and contact, owned by the
    prospect's owner, in the default pipeline's first stage, with the prospect's campaign as its
    source. At most one deal per prospect."""
    if not event.open_deal:
        return
    if repository.deal_from_prospect(uow.session, event.prospect_id) is not None:
        return
    person = " ".join(p for p in (event.first_name, event.last_name) if p)
    title = event.deal_title.strip() or event.company_name or person or "Negocio"
    if event.deal_amount is not None:
        amount_text, currency_code = event.deal_amount
        currency = parse_currency(currency_code, "deal_amount.currency_code")
        amount = parse_amount(amount_text or "0", "deal_amount.amount")
    else:
        currency, amount = default_currency, Decimal(0)
    draft = Deal(
        id="",
        title=title[:200],
        client_id=event.client_id,
        owner_id=event.owner_id,
        amount=amount,
        currency_code=currency,
        contact_ids=(event.contact_id,) if event.contact_id else (),
        source_campaign_id=event.source_campaign_id,
        source_prospect_id=event.prospect_id,
    )
    open_deal(uow, draft, event.actor_user_id, utc_now())
