"""Campaigns (Campaña) as plain records and their rules: what a valid campaign is, its target
segment, its life cycle draft → scheduled → running → completed (or cancelled), and what an
update may change. Pure Python: no protobuf, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from crm_campaigns.domain.content import check_template
from crm_platform.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_platform.money import MAX_AMOUNT_DIGITS, is_known_currency, round_amount
from crm_platform.update_mask import UpdatableFields
from crm_platform.versioning import check_version


class CampaignType(Enum):
    MAILING = "mailing"
    TELEMARKETING = "telemarketing"
    SOCIAL_ADS = "social_ads"
    TRADE_FAIR = "trade_fair"


class CampaignStatus(Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TargetKind(Enum):
    CLIENTS = "clients"
    CONTACTS = "contacts"
    PROSPECTS = "prospects"


class MailProvider(Enum):
    SMTP = "smtp"
    MAILCHIMP = "mailchimp"


# Names of crm.contacts.v1 enum values a segment may name (kept as strings: the campaigns
# contract imports no other service's).
PROSPECT_STATUSES = frozenset(
    f"PROSPECT_STATUS_{s}" for s in ("NEW", "CONTACTED", "QUALIFIED", "CONVERTED", "DISQUALIFIED")
)
PROSPECT_SOURCES = frozenset(
    f"PROSPECT_SOURCE_{s}" for s in ("WEB", "REFERRAL", "CAMPAIGN", "TRADE_FAIR", "ADS", "RD_STATION", "IMPORT")
)
# Values one filter of a segment may hold.
MAX_FILTER_VALUES = 100
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Segment:
    """Which records a campaign is aimed at: filters of different kinds combine with AND, the
    values of one filter with OR; an empty filter does not filter. kind None = no target (a
    campaign whose members come only from captured leads)."""

    kind: TargetKind | None = None
    segment_tags: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    country_codes: tuple[str, ...] = ()
    owner_ids: tuple[str, ...] = ()
    prospect_statuses: tuple[str, ...] = ()
    prospect_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailingContent:
    subject: str = ""
    html_body: str = ""
    text_body: str = ""
    provider: MailProvider | None = None
    from_name: str = ""
    from_email: str = ""
    reply_to_email: str = ""


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    type: CampaignType
    owner_id: str
    budget_amount: Decimal
    currency_code: str
    status: CampaignStatus = CampaignStatus.DRAFT
    start_date: date | None = None
    end_date: date | None = None
    cost_amount: Decimal = Decimal(0)
    description: str = ""
    target: Segment = field(default_factory=Segment)
    mailing: MailingContent | None = None
    external_id: str = ""
    webhook_secret: str = ""
    launch_time: datetime | None = None
    complete_time: datetime | None = None
    cancel_time: datetime | None = None
    cancel_reason: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1


UPDATABLE = UpdatableFields(
    fields=(
        "name",
        "type",
        "start_date",
        "end_date",
        "owner_id",
        "budget",
        "description",
        "target",
        "mailing",
        "external_id",
    ),
    immutable=frozenset(
        {
            "id",
            "status",
            "cost",
            "launch_time",
            "complete_time",
            "cancel_time",
            "cancel_reason",
            "create_time",
            "update_time",
            "version",
            "webhook_secret",
        }
    ),
)
# Fields that only a draft may change (a launched campaign's members came from them).
DRAFT_ONLY = frozenset({"type", "target"})


class _Fields(UpdatableFields):
    """ "budget" is two attributes of the record (amount and currency)."""

    def apply_path(self, changes: dict[str, Any], current: Any, draft: Any, head: str, sub: str) -> None:
        if head == "budget":
            changes["budget_amount"] = draft.budget_amount
            changes["currency_code"] = draft.currency_code
        else:
            super().apply_path(changes, current, draft, head, sub)

    def value(self, record: Any, name: str) -> Any:
        if name == "budget":
            return (record.budget_amount, record.currency_code)
        return super().value(record, name)


FIELDS = _Fields(UPDATABLE.fields, UPDATABLE.immutable)


def _check_segment(seg: Segment, ctype: CampaignType, problems: list[FieldViolation]) -> None:
    f = "campaign.target"
    filters = (seg.segment_tags, seg.industries, seg.cities, seg.country_codes, seg.owner_ids)
    if seg.kind is None and ctype in (CampaignType.MAILING, CampaignType.TELEMARKETING) and any(filters):
        problems.append(FieldViolation(f"{f}.kind", "name the kind of records the filters apply to"))
    if seg.kind is TargetKind.PROSPECTS and seg.segment_tags:
        problems.append(FieldViolation(f"{f}.segment_tags", "prospects have no segment tags (clients and contacts do)"))
    for name in ("segment_tags", "industries", "cities", "country_codes", "owner_ids"):
        values = getattr(seg, name)
        if len(values) > MAX_FILTER_VALUES:
            problems.append(FieldViolation(f"{f}.{name}", f"at most {MAX_FILTER_VALUES} values"))
        for i, v in enumerate(values):
            if not v.strip():
                problems.append(FieldViolation(f"{f}.{name}[{i}]", "must not be empty"))
    for i, code in enumerate(seg.country_codes):
        if code.strip() and not _COUNTRY.match(code):
            problems.append(FieldViolation(f"{f}.country_codes[{i}]", f"'{code}' is not an ISO 3166-1 alpha-2 code"))
    for name, allowed in (("prospect_statuses", PROSPECT_STATUSES), ("prospect_sources", PROSPECT_SOURCES)):
        values = getattr(seg, name)
        if values and seg.kind is not TargetKind.PROSPECTS:
            problems.append(FieldViolation(f"{f}.{name}", "filters prospects only (target kind PROSPECTS)"))
        for i, v in enumerate(values):
            if v not in allowed:
                problems.append(FieldViolation(f"{f}.{name}[{i}]", f"'{v}' is not one of {', '.join(sorted(allowed))}"))


def normalised_segment(seg: Segment) -> Segment:
    """Values stripped, without repeats, sorted (so that equal segments compare equal)."""

    def clean(values: Sequence[str], upper: bool = False) -> tuple[str, ...]:
        out = {v.strip().upper() if upper else v.strip() for v in values}
        return tuple(sorted(out))

    return replace(
        seg,
        segment_tags=clean(seg.segment_tags),
        industries=clean(seg.industries),
        cities=clean(seg.cities),
        country_codes=clean(seg.country_codes, upper=True),
        owner_ids=clean(seg.owner_ids),
        prospect_statuses=clean(seg.prospect_statuses),
        prospect_sources=clean(seg.prospect_sources),
    )


# Target kinds whose records are visible only to their owner's scope (clients and contacts are
# readable by every user, so a segment of them is never narrowed).
OWNER_RESTRICTED_KINDS = frozenset({TargetKind.PROSPECTS})


def check_target_scope(seg: Segment, allowed_owner_ids: Sequence[str]) -> None:
    """INVALID_ARGUMENT naming campaign.target.owner_ids[i] when an owner-restricted segment names
    an owner whose records the campaign's owner may not see (`allowed_owner_ids`; empty = any).
    Refused rather than narrowed at create and update, so that the user sees the segment they get.
    The message is the same whether the id is a user or not: nothing about other users leaks."""
    if not allowed_owner_ids or seg.kind not in OWNER_RESTRICTED_KINDS:
        return
    allowed = set(allowed_owner_ids)
    problems = [
        FieldViolation(
            f"campaign.target.owner_ids[{i}]",
            f"'{owner}' is not among the users whose prospects the campaign's owner may see",
        )
        for i, owner in enumerate(seg.owner_ids)
        if owner not in allowed
    ]
    if problems:
        raise InvalidArgument(problems)


def scoped_segment(seg: Segment, allowed_owner_ids: Sequence[str]) -> Segment | None:
    """The segment a launch reads: an owner-restricted one narrowed to `allowed_owner_ids` (its own
    owner_ids within them, or all of them when it names none); unchanged when nothing is
    restricted. None when nothing can match (an empty owner filter would mean every owner)."""
    if not allowed_owner_ids or seg.kind not in OWNER_RESTRICTED_KINDS:
        return seg
    allowed = sorted(set(allowed_owner_ids))
    owners = tuple(o for o in seg.owner_ids if o in set(allowed)) if seg.owner_ids else tuple(allowed)
    return replace(seg, owner_ids=owners) if owners else None


def _check_mailing(c: Campaign, problems: list[FieldViolation]) -> None:
    m = c.mailing
    if m is None:
        return
    f = "campaign.mailing"
    if len(m.subject) > 300:
        problems.append(FieldViolation(f"{f}.subject", "at most 300 characters"))
    for name in ("from_email", "reply_to_email"):
        value = getattr(m, name)
        if value and not _EMAIL.match(value):
            problems.append(FieldViolation(f"{f}.{name}", f"'{value}' is not an e-mail address"))
    for name in ("subject", "html_body", "text_body"):
        problem = check_template(getattr(m, name))
        if problem:
            problems.append(FieldViolation(f"{f}.{name}", problem))


def validated(c: Campaign) -> Campaign:
    """The campaign as stored (name stripped, money rounded, segment normalised), or
    InvalidArgument naming every field at fault."""
    problems: list[FieldViolation] = []
    name = c.name.strip()
    if not name:
        problems.append(FieldViolation("campaign.name", "is required"))
    elif len(name) > 200:
        problems.append(FieldViolation("campaign.name", "at most 200 characters"))
    if not c.owner_id:
        problems.append(FieldViolation("campaign.owner_id", "is required"))
    if not is_known_currency(c.currency_code):
        problems.append(FieldViolation("campaign.budget.currency_code", f"'{c.currency_code}' is not an ISO 4217 code"))
    if c.budget_amount < 0:
        problems.append(FieldViolation("campaign.budget.amount", "must not be negative"))
    elif c.budget_amount.adjusted() >= MAX_AMOUNT_DIGITS:
        problems.append(FieldViolation("campaign.budget.amount", f"at most {MAX_AMOUNT_DIGITS} integer digits"))
    if c.start_date and c.end_date and c.end_date < c.start_date:
        problems.append(FieldViolation("campaign.end_date", "must not be before start_date"))
    if len(c.description) > 5000:
        problems.append(FieldViolation("campaign.description", "at most 5000 characters"))
    target = normalised_segment(c.target)
    _check_segment(target, c.type, problems)
    if c.mailing is not None and c.type is not CampaignType.MAILING:
        problems.append(FieldViolation("campaign.mailing", "only a mailing campaign has mail content"))
    _check_mailing(c, problems)
    if problems:
        raise InvalidArgument(problems)
    budget = round_amount(c.budget_amount, c.currency_code)
    return replace(c, name=name, budget_amount=budget, target=target)


def updated(
    current: Campaign, draft: Campaign, mask: Sequence[str], expected_version: int
) -> tuple[Campaign, list[str]]:
    """The campaign with the masked fields of `draft`, and the names of the fields that changed."""
    paths = FIELDS.check(mask)
    check_version("campaign", current.id, current.version, expected_version)
    if current.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise FailedPrecondition(
            f"campaign '{current.id}' is {current.status.value}: it cannot be changed", reason="campaign_closed"
        )
    after = validated(FIELDS.apply(current, draft, paths))
    changed = FIELDS.changed(current, after)
    frozen = DRAFT_ONLY & set(changed)
    if frozen and current.status is not CampaignStatus.DRAFT:
        name = sorted(frozen)[0]
        raise FailedPrecondition(
            f"campaign.{name}: only a draft's {name} can change (this campaign is {current.status.value})",
            reason="campaign_launched",
            metadata={"field": f"campaign.{name}"},
        )
    return after, changed


# The life cycle: which status each action leads from and to.
def launched(c: Campaign, today: date, now: datetime) -> Campaign:
    """A draft launched: scheduled when its start date is later than today, else running."""
    if c.status is not CampaignStatus.DRAFT:
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: only a draft can be launched", reason="not_a_draft"
        )
    if c.type in (CampaignType.MAILING, CampaignType.TELEMARKETING) and c.target.kind is None:
        raise FailedPrecondition(
            "campaign.target.kind: a mailing or telemarketing campaign needs a target segment",
            reason="no_target",
            metadata={"field": "campaign.target.kind"},
        )
    if c.end_date and c.end_date < today:
        raise FailedPrecondition(f"campaign.end_date: the campaign ended on {c.end_date}", reason="campaign_ended")
    status = CampaignStatus.SCHEDULED if c.start_date and c.start_date > today else CampaignStatus.RUNNING
    return replace(c, status=status, launch_time=now)


def completed(c: Campaign, now: datetime) -> Campaign:
    if c.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: only a launched campaign can be completed",
            reason="not_launched",
        )
    return replace(c, status=CampaignStatus.COMPLETED, complete_time=now)


def cancelled(c: Campaign, reason: str, now: datetime) -> Campaign:
    if c.status in (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: it cannot be cancelled", reason="campaign_closed"
        )
    return replace(c, status=CampaignStatus.CANCELLED, cancel_time=now, cancel_reason=reason.strip())


def started(c: Campaign, today: date) -> Campaign:
    """A scheduled campaign whose start date has come is running (read-time rule, stored lazily)."""
    if c.status is CampaignStatus.SCHEDULED and (c.start_date is None or c.start_date <= today):
        return replace(c, status=CampaignStatus.RUNNING)
    return c


def check_deletable(c: Campaign) -> None:
    if c.status is not CampaignStatus.DRAFT:
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: only a draft can be deleted (cancel it instead)",
            reason="not_a_draft",
        )


def check_accepts_leads(c: Campaign) -> None:
    if c.status in (CampaignStatus.DRAFT, CampaignStatus.COMPLETED, CampaignStatus.CANCELLED):
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: leads are captured while it is launched",
            reason="campaign_not_running",
        )
