"""Use cases on deals. References to other services' records (the client, its contacts, the
catalogue's products) are checked over gRPC before the unit of work opens, so an unknown record
or an unreachable service writes nothing. Each change runs in one unit of work with the deal's
row locked; the change and its event commit together."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from crm_deals.adapters import deal_repository as repository
from crm_deals.adapters.catalogue import Catalogue
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.contract import convert
from crm_deals.domain import deals as rules
from crm_deals.domain.deals import Deal, DealStatus, DealView, ProductFigures
from crm_deals.domain.pipelines import Pipeline
from crm_deals.service_layer.pipelines import Clock, utc_now
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.money import round_amount
from crm_platform.versioning import check_version


@dataclass(frozen=True)
class DealFilters:
    query: str = ""
    # Sorted, without repeats; empty = any owner.
    owner_ids: tuple[str, ...] = ()
    pipeline_id: str = ""
    stage_id: str = ""
    status: DealStatus | None = None
    client_id: str = ""
    contact_id: str = ""
    product_id: str = ""
    source_campaign_id: str = ""
    expected_close_from: date | None = None
    expected_close_to: date | None = None


@dataclass(frozen=True)
class References:
    """Where a deal's references to other services are checked."""

    directory: ContactsDirectory
    catalogue: Catalogue


def not_found(deal_id: str) -> NotFound:
    return NotFound(f"deal '{deal_id}' not found", reason="deal_not_found", metadata={"id": deal_id})


def _precondition(field: str, message: str, reason: str, **metadata: str) -> FailedPrecondition:
    return FailedPrecondition(f"{field}: {message}", reason=reason, metadata={"field": field, **metadata})


def check_references(
    refs: References, deal: Deal, *, client: bool = True, contacts: bool = True, products: bool = True
) -> None:
    """FAILED_PRECONDITION naming the field when the client does not exist or is archived, a
    contact does not exist or is another client's, or a product does not exist or is inactive;
    UNAVAILABLE when the service that knows cannot answer."""
    if client:
        found, _missing = refs.directory.clients([deal.client_id])
        ref = found.get(deal.client_id)
        if ref is None:
            raise _precondition(
                "deal.client_id", f"client '{deal.client_id}' does not exist", "client_not_found", id=deal.client_id
            )
        if ref.archived:
            raise _precondition(
                "deal.client_id", f"client '{ref.name}' is archived", "client_archived", id=deal.client_id
            )
    if contacts and deal.contact_ids:
        people, _missing = refs.directory.contacts(list(deal.contact_ids))
        for i, contact_id in enumerate(deal.contact_ids):
            field = f"deal.contact_ids[{i}]"
            person = people.get(contact_id)
            if person is None:
                raise _precondition(field, f"contact '{contact_id}' does not exist", "contact_not_found", id=contact_id)
            if person.client_id != deal.client_id:
                raise _precondition(
                    field,
                    f"contact '{contact_id}' is a contact of another client, not of '{deal.client_id}'",
                    "contact_of_other_client",
                    id=contact_id,
                )
    if products and deal.line_items:
        catalogue, _missing = refs.catalogue.products(list(deal.product_ids))
        for i, item in enumerate(deal.line_items):
            field = f"deal.line_items[{i}].product_id"
            product = catalogue.get(item.product_id)
            if product is None:
                raise _precondition(
                    field, f"product '{item.product_id}' does not exist", "product_not_found", id=item.product_id
                )
            if not product.active:
                raise _precondition(
                    field,
                    f"product '{product.name}' is inactive: it cannot be added to a deal",
                    "product_inactive",
                    id=item.product_id,
                )


def _pipeline_for(uow: UnitOfWork, pipeline_id: str) -> Pipeline:
    if pipeline_id:
        pipeline = repository.current_pipeline(uow.session, pipeline_id) if is_valid_id(pipeline_id) else None
        if pipeline is None:
            raise _precondition(
                "deal.pipeline_id", f"pipeline '{pipeline_id}' does not exist", "pipeline_not_found", id=pipeline_id
            )
        return pipeline
    pipeline = repository.current_pipeline(uow.session)
    if pipeline is None:  # the service creates it on start; only a hand-made database lacks it
        raise FailedPrecondition("there is no default pipeline", reason="no_default_pipeline")
    return pipeline


def _closed(pipeline: Pipeline) -> frozenset[str]:
    return frozenset({pipeline.won_stage.id, pipeline.lost_stage.id})


def view(deal: Deal, pipeline: Pipeline, now: datetime) -> DealView:
    return DealView(deal, _closed(pipeline), now)


def open_deal(uow: UnitOfWork, draft: Deal, actor: str, now: datetime) -> DealView:
    """Stores a new open deal (references already checked) and stages deal_created."""
    pipeline = _pipeline_for(uow, draft.pipeline_id)
    deal = rules.opened(draft, pipeline, new_id(), actor, now)
    repository.add_deal(uow.session, deal)
    shown = view(deal, pipeline, now)
    uow.add_event(convert.deal_created(shown))
    return shown


def checked_new_deal(refs: References, draft: Deal) -> Deal:
    """The deal validated, with its client, contacts and products checked (before any unit of
    work opens: see create_deal)."""
    checked = rules.validated(draft)
    check_references(refs, checked)
    return checked


def create_deal(uow: UnitOfWork, checked: Deal, actor: str, now: Clock = utc_now) -> DealView:
    """Stores a deal that checked_new_deal returned open in its pipeline (the default one unless
    named) with deal_created. The servicer runs it once per request_id (a retry is answered
    before any remote check)."""
    return open_deal(uow, checked, actor, now())


def get_deal(db: Database, deal_id: str, now: Clock = utc_now) -> DealView:
    with db.read() as session:
        deal = repository.get_deal(session, deal_id) if is_valid_id(deal_id) else None
        if deal is None:
            raise not_found(deal_id)
        closed = repository.closed_stage_ids(session, [deal.pipeline_id])
    return DealView(deal, closed, now())


def list_deals(
    db: Database,
    filters: DealFilters,
    page_size: int,
    page_token: str,
    now: Clock = utc_now,
    *,
    include_total_size: bool = False,
) -> tuple[list[DealView], str, int]:
    """A page of the deals matching `filters`, oldest first, and (when asked) how many match."""
    wanted = filters.__dict__
    closed: frozenset[str] = frozenset()

    def fetch(session: Session, limit: int, after_id: str | None) -> list[Deal]:
        nonlocal closed
        found = repository.list_deals(session, limit=limit, after_id=after_id, **wanted)
        closed = repository.closed_stage_ids(session, {d.pipeline_id for d in found})
        return found

    page: Page[Deal] = read_page(
        db,
        {**wanted, "status": filters.status.value if filters.status else ""},
        page_size,
        page_token,
        fetch,
        (lambda session: repository.count_matching_deals(session, **wanted)) if include_total_size else None,
    )
    at = now()
    return [DealView(d, closed, at) for d in page.items], page.next_page_token, page.total_size


def _locked(uow: UnitOfWork, deal_id: str, field: str = "deal_id", allowed: Collection[str] = ()) -> Deal:
    """The deal, its row locked; NOT_FOUND when there is none, or when `allowed` (the owners whose
    deals the caller may change; empty = any) does not hold its owner, so ids do not leak."""
    if not deal_id:
        raise InvalidArgument.field(field, "is required")
    deal = repository.get_deal(uow.session, deal_id, for_update=True) if is_valid_id(deal_id) else None
    if deal is None or (allowed and deal.owner_id not in allowed):
        raise not_found(deal_id)
    return deal


def _save(uow: UnitOfWork, before: Deal, after: Deal, now: datetime) -> Deal:
    after = replace(after, updated_at=now, version=before.version + 1)
    if not repository.save_deal(uow.session, before, after):
        raise Conflict(f"deal '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")
    return after


def _check_version(deal: Deal, expected_version: int) -> None:
    check_version("deal", deal.id, deal.version, expected_version)


def update_deal(
    db: Database,
    refs: References,
    draft: Deal,
    mask: Sequence[str],
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
) -> DealView:
    """Changes the masked fields (validated as on create; a new client, contacts or products are
    checked again) and stages deal_updated with the names of the changed fields. A stale
    `expected_version` is ABORTED; an update that changes nothing writes nothing."""
    for _attempt in range(3):
        with db.read() as session:
            current = repository.get_deal(session, draft.id) if is_valid_id(draft.id) else None
            if current is None:
                raise not_found(draft.id)
            pipeline = _pipeline_of(session, current)
        after, changed = rules.updated(current, draft, mask, expected_version)
        if not changed:
            return view(current, pipeline, now())
        client_changed = "client_id" in changed
        check_references(
            refs,
            after,
            client=client_changed,
            contacts=client_changed or "contact_ids" in changed,
            products="line_items" in changed,
        )
        with db.uow() as uow:
            stored = _locked(uow, draft.id, "deal.id")
            if stored.version != current.version:  # changed between the checks and the lock
                _check_version(stored, expected_version)
                continue  # no version was named: apply the mask to the new state
            at = now()
            saved = _save(uow, stored, after, at)
            shown = view(saved, pipeline, at)
            uow.add_event(convert.deal_updated(shown, changed, current))
            uow.commit()
            return shown
    raise Conflict(f"deal '{draft.id}' keeps changing: read it again and retry", reason="version_mismatch")


def _pipeline_of(session: Session, deal: Deal) -> Pipeline:
    pipeline = repository.current_pipeline(session, deal.pipeline_id)
    assert pipeline is not None, "a deal's pipeline cannot be deleted while it has deals"
    return pipeline


def delete_deal(db: Database, deal_id: str) -> None:
    """Deletes the deal for good and stages deal_deleted (with the deal as it was)."""
    with db.uow() as uow:
        deal = _locked(uow, deal_id, "id")
        pipeline = _pipeline_of(uow.session, deal)
        shown = view(deal, pipeline, utc_now())
        repository.delete_deal(uow.session, deal.id)
        uow.add_event(convert.deal_deleted(shown))
        uow.commit()


# A stage change: the deal as `change(deal, pipeline, actor, at)` leaves it (the same object when
# nothing changes), and the event that says so, from the deal before and the deal as stored.
Change = Callable[[Deal, Pipeline, str, datetime], Deal]
Announce = Callable[[Deal, DealView], Message]


def _store_transition(
    uow: UnitOfWork, before: Deal, after: Deal, pipeline: Pipeline, at: datetime, announce: Announce
) -> DealView:
    saved = _save(uow, before, after, at)
    shown = view(saved, pipeline, at)
    uow.add_event(announce(before, shown))
    return shown


def _transition(
    db: Database,
    deal_id: str,
    change: Change,
    announce: Announce,
    *,
    expected_version: int,
    now: Clock,
    allowed_owner_ids: Collection[str],
) -> DealView:
    """One stage change in one unit of work: the deal's row locked (NOT_FOUND outside the caller's
    scope), its version checked, the change stored with its event; a change that changes nothing
    stores and publishes nothing."""
    with db.uow() as uow:
        deal = _locked(uow, deal_id, allowed=allowed_owner_ids)
        _check_version(deal, expected_version)
        pipeline = _pipeline_of(uow.session, deal)
        at = now()
        after = change(deal, pipeline, current_actor(), at)
        if after is deal:
            return view(deal, pipeline, at)
        shown = _store_transition(uow, deal, after, pipeline, at, announce)
        uow.commit()
        return shown


def _won(before: Deal, shown: DealView) -> Message:
    return convert.deal_won(shown, before.stage_id)


def win(uow: UnitOfWork, deal: Deal, pipeline: Pipeline, actor: str, at: datetime) -> DealView:
    """Stores the open deal won, with deal_won (an accepted quote wins a deal through it too)."""
    return _store_transition(uow, deal, rules.won(deal, pipeline, actor, at), pipeline, at, _won)


def move_deal(
    db: Database,
    deal_id: str,
    stage_id: str,
    keep_probability: bool,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
    allowed_owner_ids: Collection[str] = (),
) -> DealView:
    """Moves an open deal to another open stage of its pipeline, with deal_stage_changed."""
    if not stage_id:
        raise InvalidArgument.field("stage_id", "is required")
    return _transition(
        db,
        deal_id,
        lambda deal, pipeline, actor, at: rules.moved(deal, pipeline, stage_id, keep_probability, actor, at),
        lambda before, shown: convert.deal_stage_changed(shown, before.stage_id, before.probability),
        expected_version=expected_version,
        now=now,
        allowed_owner_ids=allowed_owner_ids,
    )


def win_deal(
    db: Database,
    deal_id: str,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
    allowed_owner_ids: Collection[str] = (),
) -> DealView:
    """Wins an open deal: the pipeline's won stage, probability 100, with deal_won."""
    return _transition(
        db, deal_id, rules.won, _won, expected_version=expected_version, now=now, allowed_owner_ids=allowed_owner_ids
    )


def lose_deal(
    db: Database,
    deal_id: str,
    reason: str,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
    allowed_owner_ids: Collection[str] = (),
) -> DealView:
    """Loses an open deal for `reason` (required), with deal_lost."""
    if not reason.strip():  # before any read: a missing reason is the caller's mistake alone
        raise InvalidArgument.field("reason", "say why the deal was lost")
    return _transition(
        db,
        deal_id,
        lambda deal, pipeline, actor, at: rules.lost(deal, pipeline, reason, actor, at),
        lambda before, shown: convert.deal_lost(shown, before.stage_id),
        expected_version=expected_version,
        now=now,
        allowed_owner_ids=allowed_owner_ids,
    )


def reopen_deal(
    db: Database,
    deal_id: str,
    stage_id: str,
    *,
    expected_version: int = 0,
    now: Clock = utc_now,
    allowed_owner_ids: Collection[str] = (),
) -> DealView:
    """Reopens a won or lost deal at `stage_id` or the stage it left, with deal_reopened."""

    def announce(before: Deal, shown: DealView) -> Message:
        previous = DealStatus.WON if before.status is DealStatus.WON else DealStatus.LOST
        return convert.deal_reopened(shown, previous, before.stage_id)

    return _transition(
        db,
        deal_id,
        lambda deal, pipeline, actor, at: rules.reopened(deal, pipeline, stage_id, actor, at),
        announce,
        expected_version=expected_version,
        now=now,
        allowed_owner_ids=allowed_owner_ids,
    )


def product_figures(
    db: Database, product_ids: Sequence[str], owner_ids: Sequence[str] = ()
) -> list[tuple[str, ProductFigures | None]]:
    """One entry per requested product id, in request order (None for a product no deal names),
    over the deals of `owner_ids` only when given; won amounts rounded to their currency."""
    if len(product_ids) > 1000:
        raise InvalidArgument.field("product_ids", f"at most 1000 ids per call, got {len(product_ids)}")
    wanted = list(dict.fromkeys(product_ids))
    with db.read() as session:
        figures = repository.product_figures(session, wanted, owner_ids)
    out: list[tuple[str, ProductFigures | None]] = []
    for product_id in product_ids:
        f = figures.get(product_id)
        if f is not None:
            f = replace(f, won_amounts={c: round_amount(v, c) for c, v in f.won_amounts.items()})
        out.append((product_id, f))
    return out
