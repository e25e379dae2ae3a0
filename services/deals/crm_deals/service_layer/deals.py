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

from crm.deals.v1 import deals_pb2, events_pb2
from crm_deals.adapters import deal_repository as repository
from crm_deals.adapters.catalogue import Catalogue
from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_deals.domain import deals as rules
from crm_deals.domain.deals import Deal, DealStatus
from crm_deals.domain.pipelines import Pipeline
from crm_deals.entrypoints import convert
from crm_deals.service_layer.pipelines import Clock, utc_now
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.idempotency import remembered, run_once
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


def to_proto(deal: Deal, pipeline: Pipeline, now: datetime) -> deals_pb2.Deal:
    return convert.deal_to_proto(deal, _closed(pipeline), now)


def open_deal(uow: UnitOfWork, draft: Deal, actor: str, now: datetime) -> deals_pb2.Deal:
    """Stores a new open deal (references already checked) and stages deal_created."""
    pipeline = _pipeline_for(uow, draft.pipeline_id)
    deal = rules.opened(draft, pipeline, new_id(), actor, now)
    repository.add_deal(uow.session, deal)
    message = to_proto(deal, pipeline, now)
    uow.add_event(events_pb2.DealCreated(deal=message))
    return message


def create_deal(
    db: Database, refs: References, draft: Deal, *, request_id: str = "", now: Clock = utc_now
) -> deals_pb2.CreateDealResponse:
    """Validates the deal, checks its client, contacts and products, and stores it open in its
    pipeline (the default one unless named) with deal_created. A repeated request_id returns the
    first answer without checking or writing anything."""
    if request_id:  # a retry is answered before any remote check
        with db.read() as session:
            earlier = remembered(session, "CreateDeal", request_id, deals_pb2.CreateDealResponse)
        if earlier is not None:
            return earlier
    checked = rules.validated(draft)
    check_references(refs, checked)
    actor = current_actor()
    return run_once(
        db,
        "CreateDeal",
        request_id,
        deals_pb2.CreateDealResponse,
        lambda uow: deals_pb2.CreateDealResponse(deal=open_deal(uow, checked, actor, now())),
    )


def get_deal(db: Database, deal_id: str, now: Clock = utc_now) -> deals_pb2.Deal:
    with db.read() as session:
        deal = repository.get_deal(session, deal_id) if is_valid_id(deal_id) else None
        if deal is None:
            raise not_found(deal_id)
        closed = repository.closed_stage_ids(session, [deal.pipeline_id])
    return convert.deal_to_proto(deal, closed, now())


def list_deals(
    db: Database,
    filters: DealFilters,
    page_size: int,
    page_token: str,
    now: Clock = utc_now,
    *,
    include_total_size: bool = False,
) -> tuple[list[deals_pb2.Deal], str, int]:
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
    return [convert.deal_to_proto(d, closed, at) for d in page.items], page.next_page_token, page.total_size


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
) -> deals_pb2.Deal:
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
            return to_proto(current, pipeline, now())
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
            message = to_proto(saved, pipeline, at)
            event = events_pb2.DealUpdated(deal=message, changed_fields=changed)
            if "amount" in changed:
                event.previous_amount.CopyFrom(convert.money(current.amount, current.currency_code))
            uow.add_event(event)
            uow.commit()
            return message
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
        message = to_proto(deal, pipeline, utc_now())
        repository.delete_deal(uow.session, deal.id)
        uow.add_event(events_pb2.DealDeleted(deal=message))
        uow.commit()


# A stage change: the deal as `change(deal, pipeline, actor, at)` leaves it (the same object when
# nothing changes), and the event that says so, from the deal before and the stored message.
Change = Callable[[Deal, Pipeline, str, datetime], Deal]
Announce = Callable[[Deal, deals_pb2.Deal], Message]


def _store_transition(
    uow: UnitOfWork, before: Deal, after: Deal, pipeline: Pipeline, at: datetime, announce: Announce
) -> deals_pb2.Deal:
    saved = _save(uow, before, after, at)
    message = to_proto(saved, pipeline, at)
    uow.add_event(announce(before, message))
    return message


def _transition(
    db: Database,
    deal_id: str,
    change: Change,
    announce: Announce,
    *,
    expected_version: int,
    now: Clock,
    allowed_owner_ids: Collection[str],
) -> deals_pb2.Deal:
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
            return to_proto(deal, pipeline, at)
        message = _store_transition(uow, deal, after, pipeline, at, announce)
        uow.commit()
        return message


def _won(before: Deal, message: deals_pb2.Deal) -> Message:
    return events_pb2.DealWon(deal=message, from_stage_id=before.stage_id)


def win(uow: UnitOfWork, deal: Deal, pipeline: Pipeline, actor: str, at: datetime) -> deals_pb2.Deal:
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
) -> deals_pb2.Deal:
    """Moves an open deal to another open stage of its pipeline, with deal_stage_changed."""
    if not stage_id:
        raise InvalidArgument.field("stage_id", "is required")
    return _transition(
        db,
        deal_id,
        lambda deal, pipeline, actor, at: rules.moved(deal, pipeline, stage_id, keep_probability, actor, at),
        lambda before, message: events_pb2.DealStageChanged(
            deal=message,
            from_stage_id=before.stage_id,
            to_stage_id=message.stage_id,
            previous_probability=before.probability or 0,
        ),
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
) -> deals_pb2.Deal:
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
) -> deals_pb2.Deal:
    """Loses an open deal for `reason` (required), with deal_lost."""
    if not reason.strip():  # before any read: a missing reason is the caller's mistake alone
        raise InvalidArgument.field("reason", "say why the deal was lost")
    return _transition(
        db,
        deal_id,
        lambda deal, pipeline, actor, at: rules.lost(deal, pipeline, reason, actor, at),
        lambda before, message: events_pb2.DealLost(deal=message, from_stage_id=before.stage_id),
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
) -> deals_pb2.Deal:
    """Reopens a won or lost deal at `stage_id` or the stage it left, with deal_reopened."""

    def announce(before: Deal, message: deals_pb2.Deal) -> Message:
        previous = deals_pb2.DEAL_STATUS_WON if before.status is DealStatus.WON else deals_pb2.DEAL_STATUS_LOST
        return events_pb2.DealReopened(deal=message, previous_status=previous, from_stage_id=before.stage_id)

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
) -> list[deals_pb2.ProductDealFigures]:
    """One entry per requested product id, in request order (zeros for a product no deal names),
    over the deals of `owner_ids` only when given."""
    if len(product_ids) > 1000:
        raise InvalidArgument.field("product_ids", f"at most 1000 ids per call, got {len(product_ids)}")
    wanted = list(dict.fromkeys(product_ids))
    with db.read() as session:
        figures = repository.product_figures(session, wanted, owner_ids)
    out = []
    for product_id in product_ids:
        f = figures.get(product_id)
        entry = deals_pb2.ProductDealFigures(product_id=product_id)
        if f is not None:
            entry.deal_count = f.deal_count
            entry.open_deal_count = f.open_deal_count
            entry.won_deal_count = f.won_deal_count
            entry.won_amounts.extend(convert.money(round_amount(v, c), c) for c, v in sorted(f.won_amounts.items()))
        out.append(entry)
    return out
