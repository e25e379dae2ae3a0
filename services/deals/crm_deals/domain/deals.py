"""Deals (Negocio): what a valid deal holds, and how it moves through its pipeline: between open
stages, to won, to lost (with a reason), and back to open. Every stage change appends to the
deal's stage history, from which the time spent in each stage and the sales cycle are computed.
Pure Python: no I/O, no protobuf.

Money: a deal's amount is exact (Decimal) and is rounded half-up to its currency's minor unit
once, when the deal is validated (crm_platform.money.round_amount), so a stored amount is final."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from crm_deals.domain.pipelines import Pipeline, Stage, StageKind
from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.ids import is_valid_id
from crm_platform.money import MAX_AMOUNT_DIGITS, is_known_currency, round_amount
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version

TITLE_MAX = 200
REASON_MAX = 500
MAX_LINE_ITEMS = 100
MAX_CONTACTS = 50
ID_MAX = 36


class DealStatus(enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True)
class LineItem:
    """A product or service of the catalogue (quotes service) that the deal sells."""

    product_id: str
    quantity: Decimal


@dataclass(frozen=True)
class StageMove:
    from_stage_id: str  # empty on the entry that records the creation
    to_stage_id: str
    moved_by: str  # empty when the system moved it
    moved_at: datetime


@dataclass(frozen=True)
class Deal:
    id: str
    title: str
    client_id: str
    owner_id: str
    amount: Decimal = Decimal(0)
    currency_code: str = ""
    line_items: tuple[LineItem, ...] = ()
    contact_ids: tuple[str, ...] = ()
    pipeline_id: str = ""
    stage_id: str = ""
    # 0-100; on create, None means "the stage's default probability".
    probability: int | None = None
    expected_close_date: date | None = None
    source_campaign_id: str = ""
    status: DealStatus = DealStatus.OPEN
    lost_reason: str = ""
    won_at: datetime | None = None
    lost_at: datetime | None = None
    accepted_quote_id: str = ""
    source_prospect_id: str = ""
    stage_history: tuple[StageMove, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def search_text(self) -> str:
        return self.title.casefold()

    @property
    def product_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.product_id for item in self.line_items))


@dataclass
class ProductFigures:
    """What the deals say about one catalogue product: how many deals name it (open, won) and
    the won deals' amounts summed per currency (exact, not yet rounded)."""

    deal_count: int = 0
    open_deal_count: int = 0
    won_deal_count: int = 0
    won_amounts: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class DealView:
    """A deal as it is shown: with the closed (won, lost) stages of its pipeline and the time up
    to which its time in each stage is counted."""

    deal: Deal
    closed_stage_ids: frozenset[str]
    at: datetime


@dataclass(frozen=True)
class QuoteLine:
    """A line of an accepted quote, as the quotes service sent it (quantity not yet parsed)."""

    product_id: str
    quantity: str


@dataclass(frozen=True)
class QuoteAcceptance:
    """What an accepted quote tells this service (amounts as sent, parsed by the reaction)."""

    quote_id: str
    number: str
    deal_id: str
    total_amount: str
    total_currency_code: str
    lines: tuple[QuoteLine, ...] = ()


@dataclass(frozen=True)
class ProspectConversion:
    """What a prospect's conversion tells this service. `deal_amount` is (amount, currency code)
    as sent, when the conversion named an amount with a currency."""

    open_deal: bool
    prospect_id: str
    first_name: str
    last_name: str
    company_name: str
    owner_id: str
    source_campaign_id: str
    deal_title: str
    deal_amount: tuple[str, str] | None
    client_id: str
    contact_id: str
    actor_user_id: str


UPDATABLE = UpdatableFields(
    fields=(
        "title",
        "line_items",
        "client_id",
        "contact_ids",
        "amount",
        "owner_id",
        "probability",
        "expected_close_date",
        "source_campaign_id",
    ),
    immutable=frozenset(
        {
            "id",
            "pipeline_id",
            "stage_id",
            "status",
            "lost_reason",
            "won_time",
            "lost_time",
            "stage_history",
            "accepted_quote_id",
            "source_prospect_id",
            "stage_times",
            "sales_cycle_seconds",
            "create_time",
            "update_time",
            "version",
        }
    ),
)


def _check_id(value: str, name: str, problems: list[FieldViolation], *, required: bool = False) -> None:
    if not value:
        if required:
            problems.append(FieldViolation(name, "is required"))
    elif len(value) > ID_MAX or not is_valid_id(value):
        problems.append(FieldViolation(name, f"'{value[:40]}' is not a valid id"))


def validated(deal: Deal) -> Deal:
    """The deal with its fields normalised (title trimmed, amount rounded to the currency's minor
    unit), or InvalidArgument naming every bad field."""
    problems: list[FieldViolation] = []
    title = deal.title.strip()
    if not title:
        problems.append(FieldViolation("deal.title", "is required"))
    elif len(title) > TITLE_MAX:
        problems.append(FieldViolation("deal.title", f"must be at most {TITLE_MAX} characters"))
    _check_id(deal.client_id, "deal.client_id", problems, required=True)
    _check_id(deal.owner_id, "deal.owner_id", problems, required=True)
    _check_id(deal.source_campaign_id, "deal.source_campaign_id", problems)
    currency = deal.currency_code.strip().upper()
    amount = deal.amount
    if not is_known_currency(currency):
        problems.append(FieldViolation("deal.amount.currency_code", f"'{currency}' is not an ISO 4217 currency code"))
    if not amount.is_finite() or amount.adjusted() >= MAX_AMOUNT_DIGITS:
        problems.append(FieldViolation("deal.amount.amount", f"must have at most {MAX_AMOUNT_DIGITS} integer digits"))
    elif amount < 0:
        problems.append(FieldViolation("deal.amount.amount", "must not be negative"))
    elif is_known_currency(currency):
        amount = round_amount(amount, currency)
    if deal.probability is not None and not 0 <= deal.probability <= 100:
        problems.append(FieldViolation("deal.probability", "must be between 0 and 100"))
    if len(deal.line_items) > MAX_LINE_ITEMS:
        problems.append(FieldViolation("deal.line_items", f"at most {MAX_LINE_ITEMS} products per deal"))
    seen: set[str] = set()
    for i, item in enumerate(deal.line_items):
        _check_id(item.product_id, f"deal.line_items[{i}].product_id", problems, required=True)
        if item.product_id in seen:
            problems.append(FieldViolation(f"deal.line_items[{i}].product_id", "names a product already in the deal"))
        seen.add(item.product_id)
        q = item.quantity
        exponent = q.as_tuple().exponent  # an int once q is finite ('n', 'N' or 'F' otherwise)
        if not q.is_finite() or q <= 0 or q.adjusted() >= MAX_AMOUNT_DIGITS:
            problems.append(FieldViolation(f"deal.line_items[{i}].quantity", "must be a number greater than zero"))
        elif isinstance(exponent, int) and -exponent > 6:
            problems.append(FieldViolation(f"deal.line_items[{i}].quantity", "at most 6 decimals"))
    if len(deal.contact_ids) > MAX_CONTACTS:
        problems.append(FieldViolation("deal.contact_ids", f"at most {MAX_CONTACTS} contacts per deal"))
    if len(set(deal.contact_ids)) != len(deal.contact_ids):
        problems.append(FieldViolation("deal.contact_ids", "names a contact twice"))
    for i, contact_id in enumerate(deal.contact_ids):
        _check_id(contact_id, f"deal.contact_ids[{i}]", problems, required=True)
    if problems:
        raise InvalidArgument(problems)
    return replace(deal, title=title, currency_code=currency, amount=amount)


def opened(draft: Deal, pipeline: Pipeline, deal_id: str, actor: str, now: datetime) -> Deal:
    """A new open deal in `pipeline`: at `draft.stage_id` (an open stage) or its first open stage,
    with the stage's default probability unless one is given; its history starts with the entry
    that records the creation."""
    deal = validated(draft)
    stage = pipeline.open_stage(deal.stage_id, "deal.stage_id") if deal.stage_id else pipeline.open_stages[0]
    probability = deal.probability if deal.probability else stage.default_probability
    return replace(
        deal,
        id=deal_id,
        pipeline_id=pipeline.id,
        stage_id=stage.id,
        probability=probability,
        status=DealStatus.OPEN,
        lost_reason="",
        won_at=None,
        lost_at=None,
        accepted_quote_id="",
        stage_history=(StageMove("", stage.id, actor, now),),
        created_at=now,
        updated_at=now,
        version=1,
    )


def updated(current: Deal, draft: Deal, paths: Sequence[str], expected_version: int) -> tuple[Deal, list[str]]:
    """The deal with the masked fields of `draft` (validated as on create), and the names of the
    fields that changed; the version and time are the caller's to bump."""
    mask = UPDATABLE.check(paths)
    check_version("deal", current.id, current.version, expected_version)
    merged = UPDATABLE.apply(current, draft, mask)
    if "amount" in mask:  # amount and its currency travel together
        merged = replace(merged, currency_code=draft.currency_code)
    if "probability" in mask and draft.probability is None:
        merged = replace(merged, probability=0)
    after = validated(merged)
    return after, UPDATABLE.changed(current, after)


def _ensure_open(deal: Deal, action: str) -> None:
    if deal.status is not DealStatus.OPEN:
        raise FailedPrecondition(
            f"deal '{deal.id}' is {deal.status.value}: reopen it before you {action} it",
            reason=f"deal_{deal.status.value}",
            metadata={"id": deal.id, "deal_status": deal.status.value},
        )


def _moved(deal: Deal, to: Stage, actor: str, now: datetime) -> Deal:
    """The deal in stage `to`, the move recorded in its stage history; the caller sets the rest."""
    entry = StageMove(deal.stage_id, to.id, actor, now)
    return replace(deal, stage_id=to.id, stage_history=(*deal.stage_history, entry))


def moved(deal: Deal, pipeline: Pipeline, stage_id: str, keep_probability: bool, actor: str, now: datetime) -> Deal:
    """The open deal moved to another open stage of its pipeline (the same stage: unchanged)."""
    _ensure_open(deal, "move")
    stage = pipeline.open_stage(stage_id)
    if stage.id == deal.stage_id:
        return deal
    probability = deal.probability if keep_probability else stage.default_probability
    return replace(_moved(deal, stage, actor, now), probability=probability)


def won(deal: Deal, pipeline: Pipeline, actor: str, now: datetime) -> Deal:
    """The open deal won: in the pipeline's won stage, probability 100."""
    _ensure_open(deal, "win")
    return replace(_moved(deal, pipeline.won_stage, actor, now), status=DealStatus.WON, probability=100, won_at=now)


def lost(deal: Deal, pipeline: Pipeline, reason: str, actor: str, now: datetime) -> Deal:
    """The open deal lost, for `reason` (required): in the pipeline's lost stage, probability 0."""
    reason = reason.strip()
    if not reason:
        raise InvalidArgument.field("reason", "say why the deal was lost")
    if len(reason) > REASON_MAX:
        raise InvalidArgument.field("reason", f"must be at most {REASON_MAX} characters")
    _ensure_open(deal, "lose")
    stage = pipeline.lost_stage
    return replace(
        _moved(deal, stage, actor, now), status=DealStatus.LOST, probability=0, lost_at=now, lost_reason=reason
    )


def last_open_stage(deal: Deal, pipeline: Pipeline) -> Stage:
    """The open stage the deal was in before it was won or lost (still in the pipeline), or else
    the pipeline's first open stage."""
    for entry in reversed(deal.stage_history):
        for stage_id in (entry.to_stage_id, entry.from_stage_id):
            stage = pipeline.stage(stage_id)
            if stage is not None and stage.kind is StageKind.OPEN:
                return stage
    return pipeline.open_stages[0]


def reopened(deal: Deal, pipeline: Pipeline, stage_id: str, actor: str, now: datetime) -> Deal:
    """The won or lost deal open again, at `stage_id` (an open stage) or the stage it left."""
    if deal.status is DealStatus.OPEN:
        raise FailedPrecondition(f"deal '{deal.id}' is already open", reason="deal_open", metadata={"id": deal.id})
    stage = pipeline.open_stage(stage_id) if stage_id else last_open_stage(deal, pipeline)
    return replace(
        _moved(deal, stage, actor, now),
        status=DealStatus.OPEN,
        probability=stage.default_probability,
        won_at=None,
        lost_at=None,
        lost_reason="",
    )


# --- Cycle times -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTime:
    stage_id: str
    seconds: int


def time_in_stages(deal: Deal, closed_stage_ids: Collection[str], now: datetime) -> list[StageTime]:
    """How long the deal has spent in each open stage it has been in, in order of first entry (a
    stage entered twice counts both stays; a stage since deleted still counts). The current stay
    counts up to `now` while the deal is open; time in a won or lost stage (`closed_stage_ids`)
    does not count."""
    totals: dict[str, float] = {}
    history = deal.stage_history
    for i, entry in enumerate(history):
        end = history[i + 1].moved_at if i + 1 < len(history) else now
        if entry.to_stage_id in closed_stage_ids:
            continue
        totals[entry.to_stage_id] = totals.get(entry.to_stage_id, 0.0) + max((end - entry.moved_at).total_seconds(), 0)
    return [StageTime(stage_id, int(seconds)) for stage_id, seconds in totals.items()]


def sales_cycle(deal: Deal) -> timedelta | None:
    """From creation to being won or lost; None while the deal is open."""
    closed = deal.won_at if deal.status is DealStatus.WON else deal.lost_at if deal.status is DealStatus.LOST else None
    if closed is None or deal.created_at is None:
        return None
    return closed - deal.created_at
