"""Use cases on quotes. Each runs in one unit of work: the change and its events commit together.
What the deals service must confirm (the deal exists; its client, contacts, owner and currency)
is asked before the unit of work starts, so an unreachable deals service changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.versioning import touched
from crm_quotes.adapters import product_repository, quote_repository
from crm_quotes.adapters.deals_directory import DealRef, DealsDirectory
from crm_quotes.adapters.quote_repository import QuoteQuery
from crm_quotes.contract import convert
from crm_quotes.domain import quotes as rules
from crm_quotes.domain.quotes import UPDATABLE, Calendar, LineDraft, Quote, QuoteLine, QuoteStatus

CREATE_SCOPE = "CreateQuote"
REVISE_SCOPE = "ReviseQuote"
# Quotes stored as expired per transaction of the sweep.
SWEEP_BATCH = 200


@dataclass(frozen=True)
class Quoting:
    """What the quote use cases need besides the database: the deals service, the company's
    calendar, the default validity of a new quote, and the clock (tests set it)."""

    deals: DealsDirectory
    calendar: Calendar
    validity_days: int = 30
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def _not_found(quote_id: str) -> NotFound:
    return NotFound(f"quote '{quote_id}' not found", reason="quote_not_found", metadata={"id": quote_id})


def _stored(uow: UnitOfWork, quote_id: str) -> Quote:
    """The quote, its row locked until the unit of work ends; NOT_FOUND when there is none."""
    if not quote_id:
        raise InvalidArgument.field("id", "is required")
    quote = quote_repository.get_quote(uow.session, quote_id, for_update=True) if is_valid_id(quote_id) else None
    if quote is None:
        raise _not_found(quote_id)
    return quote


def _store(uow: UnitOfWork, before: Quote, after: Quote, *, lines_changed: bool = False) -> None:
    if not quote_repository.update_quote(uow.session, after, before.version, lines_changed=lines_changed):
        raise Conflict(f"quote '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")


def _deal(quoting: Quoting, deal_id: str) -> DealRef:
    """The deal a quote is for; FAILED_PRECONDITION naming deal_id when there is none."""
    if not deal_id:
        raise InvalidArgument.field("deal_id", "is required")
    deal = quoting.deals.deal(deal_id) if is_valid_id(deal_id) else None
    if deal is None:
        raise FailedPrecondition(
            f"deal_id: deal '{deal_id}' does not exist",
            reason="deal_not_found",
            metadata={"field": "deal_id", "deal_id": deal_id},
        )
    return deal


def _check_contact(deal: DealRef, contact_id: str, problems: list[FieldViolation]) -> None:
    if contact_id and contact_id not in deal.contact_ids:
        problems.append(FieldViolation("contact_id", f"'{contact_id}' is not one of the contacts of deal '{deal.id}'"))


def _priced(
    session: Session,
    drafts: Sequence[LineDraft],
    quote: Quote,
    kept: frozenset[str] = frozenset(),
    new_line_id: Callable[[], str] = new_id,
) -> tuple[QuoteLine, ...]:
    products = product_repository.get_products(session, {d.product_id for d in drafts if is_valid_id(d.product_id)})
    return rules.priced_lines(
        drafts,
        {p.id: p for p in products},
        quote.currency,
        quote.global_discount_percent,
        new_line_id,
        kept_product_ids=kept,
    )


def _new_header(quoting: Quoting, draft: Quote, today: date) -> Quote:
    """The header of a new quote as CreateQuote and PreviewQuote take it: the deal's client; a
    contact of the deal, the first one unless named; the deal's currency and owner unless named;
    valid for the default number of days unless dated. INVALID_ARGUMENT naming every bad field."""
    deal = _deal(quoting, draft.deal_id)
    problems: list[FieldViolation] = []
    if draft.client_id and draft.client_id != deal.client_id:
        problems.append(FieldViolation("client_id", f"must be the client of deal '{deal.id}' ({deal.client_id})"))
    _check_contact(deal, draft.contact_id, problems)
    currency = draft.currency.strip().upper() or deal.currency
    if deal.currency and currency != deal.currency:
        problems.append(FieldViolation("currency_code", f"must be the deal's currency {deal.currency}, not {currency}"))
    header = replace(
        draft,
        client_id=deal.client_id,
        contact_id=draft.contact_id or (deal.contact_ids[0] if deal.contact_ids else ""),
        owner_id=draft.owner_id or deal.owner_id,
        currency=currency,
        valid_until=draft.valid_until or today + timedelta(days=quoting.validity_days),
    )
    header = rules.check_header(header, problems, today)
    if problems:
        raise InvalidArgument(problems)
    return header


def _computed(
    session: Session, header: Quote, lines: Sequence[LineDraft], new_line_id: Callable[[], str] = new_id
) -> Quote:
    """`header` with its lines priced from the catalogue and its totals: the figures of a new quote."""
    return rules.with_totals(replace(header, lines=_priced(session, lines, header, new_line_id=new_line_id)))


@dataclass(frozen=True)
class NewQuote:
    """A quote checked against its deal, ready for create_quote: its header and lines, and the
    moment (and company day) it is made."""

    header: Quote
    lines: tuple[LineDraft, ...]
    now: datetime
    today: date


def prepare_quote(quoting: Quoting, draft: Quote, lines: Sequence[LineDraft]) -> NewQuote:
    """The header of a new draft quote for a deal (by _new_header), asked of the deals service
    before any unit of work opens."""
    now = quoting.clock()
    today = quoting.calendar.today(now)
    return NewQuote(_new_header(quoting, draft, today), tuple(lines), now, today)


def create_quote(uow: UnitOfWork, new: NewQuote) -> Quote:
    """A new draft quote, its lines priced from the catalogue, its number taken from the year's
    counter in `uow`; stages quote_created. The servicer runs it through run_once (scope
    CREATE_SCOPE), so that a repeated request_id returns the first answer."""
    quote = _computed(uow.session, new.header, new.lines)
    number = rules.quote_number(new.today.year, quote_repository.next_number(uow.session, new.today.year))
    quote = replace(
        quote,
        id=new_id(),
        number=number,
        root_number=number,
        revision=0,
        revises_quote_id="",
        superseded_by_quote_id="",
        status=QuoteStatus.DRAFT,
        created_at=new.now,
        updated_at=new.now,
        version=1,
    )
    quote_repository.add_quote(uow.session, quote)
    uow.add_event(convert.quote_created(quote))
    return quote


def preview_quote(db: Database, quoting: Quoting, draft: Quote, lines: Sequence[LineDraft]) -> Quote:
    """The quote create_quote would make of the same request — the same header, lines and
    totals by the same functions, the same errors — read in a read-only session that stores
    nothing, takes no number and stages no event. Its id, number and lines' ids are empty."""
    today = quoting.calendar.today(quoting.clock())
    header = _new_header(quoting, draft, today)
    with db.read() as session:
        return replace(_computed(session, header, lines, new_line_id=str), id="", number="", version=0)


def _same_lines(a: Sequence[QuoteLine], b: Sequence[QuoteLine]) -> bool:
    return [replace(x, id="") for x in a] == [replace(y, id="") for y in b]


def update_quote(
    db: Database,
    quoting: Quoting,
    draft: Quote,
    lines: Sequence[LineDraft],
    mask: Sequence[str],
    *,
    expected_version: int = 0,
) -> Quote:
    """Changes the fields of a draft named in `mask`; naming `lines` replaces them all (priced
    again from the catalogue where a line gives no price: a product that became inactive may stay
    on the quote but not be added). Only a draft changes (FAILED_PRECONDITION otherwise). Stages
    quote_updated with the names of the fields that changed; a change that changes nothing
    stores and publishes nothing."""
    paths = UPDATABLE.check(mask)
    if "currency_code" in paths and "lines" not in paths:
        raise InvalidArgument.field("update_mask", "change currency_code together with lines (prices are per currency)")
    current = get_quote(db, quoting, draft.id)
    rules.check_editable(current)
    deal = _deal(quoting, current.deal_id) if "contact_id" in paths and draft.contact_id else None
    now = quoting.clock()
    today = quoting.calendar.today(now)
    with db.uow() as uow:
        current = _stored(uow, draft.id)
        rules.check_version_of(current, expected_version)
        rules.check_editable(rules.effective(current, quoting.calendar, now))
        problems: list[FieldViolation] = []
        if deal is not None:
            _check_contact(deal, draft.contact_id, problems)
        after = UPDATABLE.apply(current, draft, paths - {"lines"})
        after = rules.check_header(after, problems, today if "valid_until" in paths else None)
        if problems:
            raise InvalidArgument(problems)
        if "lines" in paths:
            priced = _priced(uow.session, lines, after, kept=frozenset(ln.product_id for ln in current.lines))
            after = replace(after, lines=current.lines if _same_lines(priced, current.lines) else priced)
        else:
            after = replace(after, lines=rules.repriced(current.lines, after.global_discount_percent, after.currency))
            if _same_lines(after.lines, current.lines):
                after = replace(after, lines=current.lines)
        after = rules.with_totals(after)
        changed = UPDATABLE.changed(current, after)
        if not changed:
            return rules.effective(current, quoting.calendar, now)
        after = touched(after, now)
        _store(uow, current, after, lines_changed=after.lines is not current.lines)
        uow.add_event(convert.quote_updated(after, changed))
        uow.commit()
        return after


def _transition(
    db: Database,
    quoting: Quoting,
    quote_id: str,
    expected_version: int,
    change: Callable[[Quote, datetime], Quote],
    event: Callable[[Quote], Any],
) -> Quote:
    """A status change of one quote, as read (a sent quote past its validity is expired), under
    its row lock; nothing is written when `change` refuses."""
    now = quoting.clock()
    with db.uow() as uow:
        current = _stored(uow, quote_id)
        rules.check_version_of(current, expected_version)
        after = touched(change(rules.effective(current, quoting.calendar, now), now), now)
        _store(uow, current, after)
        uow.add_event(event(after))
        uow.commit()
        return after


def send_quote(db: Database, quoting: Quoting, quote_id: str, *, expected_version: int = 0) -> Quote:
    """A draft marked as delivered; its content is frozen. Stages quote_sent."""
    today = quoting.calendar.today(quoting.clock())
    return _transition(
        db,
        quoting,
        quote_id,
        expected_version,
        lambda q, now: rules.sent(q, now, today),
        convert.quote_sent,
    )


def accept_quote(db: Database, quoting: Quoting, quote_id: str, *, expected_version: int = 0) -> Quote:
    """A sent quote still within its validity accepted; stages quote_accepted (the whole quote:
    the deals service sets the deal's amount to its total)."""
    return _transition(db, quoting, quote_id, expected_version, rules.accepted, convert.quote_accepted)


def reject_quote(db: Database, quoting: Quoting, quote_id: str, reason: str, *, expected_version: int = 0) -> Quote:
    return _transition(
        db,
        quoting,
        quote_id,
        expected_version,
        lambda q, now: rules.rejected(q, reason, now),
        convert.quote_rejected,
    )


def revise_quote(uow: UnitOfWork, quoting: Quoting, quote_id: str, *, expected_version: int = 0) -> tuple[Quote, Quote]:
    """Supersedes a sent, rejected or expired quote with a new draft revision N+1 that copies its
    lines (snapshots kept) and keeps its root's number (COT-2026-0007-R2): (the new revision, the
    superseded quote). Stages quote_superseded and quote_created (and quote_expired when the quote
    had expired unstored). The servicer runs it through run_once (scope REVISE_SCOPE)."""
    now = quoting.clock()
    stored = _stored(uow, quote_id)
    rules.check_version_of(stored, expected_version)
    current = rules.effective(stored, quoting.calendar, now)
    events: list[Any] = []
    if current.status != stored.status:
        events.append(convert.quote_expired(current))
    old, new = rules.revision_of(current, new_id(), now, new_id)
    old = touched(old, now)
    _store(uow, stored, old)
    quote_repository.add_quote(uow.session, new)
    events += [convert.quote_superseded(old), convert.quote_created(new)]
    uow.add_events(events)
    return new, old


def delete_quote(db: Database, quoting: Quoting, quote_id: str) -> None:
    """Deletes a draft original (its number is not reused); stages quote_deleted."""
    with db.uow() as uow:
        current = _stored(uow, quote_id)
        rules.check_deletable(current)
        quote_repository.delete_quote(uow.session, current.id)
        uow.add_event(convert.quote_deleted(current))
        uow.commit()


def get_quote(db: Database, quoting: Quoting, quote_id: str) -> Quote:
    """The quote as read: expired when sent and past its validity."""
    if not is_valid_id(quote_id):
        raise _not_found(quote_id)
    with db.read() as session:
        quote = quote_repository.get_quote(session, quote_id)
    if quote is None:
        raise _not_found(quote_id)
    return rules.effective(quote, quoting.calendar, quoting.clock())


def list_quotes(db: Database, quoting: Quoting, filters: QuoteQuery, page_size: int, page_token: str) -> Page[Quote]:
    """A page of the quotes matching `filters`, oldest first, each as read (statuses too)."""
    now = quoting.clock()
    today = quoting.calendar.today(now)
    wanted = {**filters.__dict__, "status": filters.status.value if filters.status else ""}
    page = read_page(
        db,
        wanted,
        page_size,
        page_token,
        lambda session, limit, after_id: quote_repository.list_quotes(
            session, filters, today, limit=limit, after_id=after_id
        ),
    )
    return Page([rules.effective(q, quoting.calendar, now) for q in page.items], page.next_page_token)


def expire_due_quotes(db: Database, quoting: Quoting) -> int:
    """The sweep: stores EXPIRED on every sent quote whose validity has ended and stages
    quote_expired for each, exactly once (a quote is taken under its row lock and only while
    still stored as sent). Idempotent: a second run finds nothing. Returns how many it expired."""
    now = quoting.clock()
    today = quoting.calendar.today(now)
    done = 0
    while True:
        with db.uow() as uow:
            ids = quote_repository.due_for_expiry(uow.session, today, SWEEP_BATCH)
            events: list[Any] = []
            for quote_id in ids:
                stored = quote_repository.get_quote(uow.session, quote_id, for_update=True)
                if stored is None or stored.status != QuoteStatus.SENT:
                    continue  # answered or revised meanwhile
                current = rules.effective(stored, quoting.calendar, now)
                if current.status != QuoteStatus.EXPIRED:
                    continue
                after = touched(current, now)
                _store(uow, stored, after)
                events.append(convert.quote_expired(after))
            if events:
                uow.add_events(events)
            uow.commit()
        done += len(events)
        if len(ids) < SWEEP_BATCH:
            return done
