"""Use cases on campaigns: create, read, list, update, delete a draft; launch (the segment's
snapshot into members, read from the contacts service before the unit of work opens, inserted
with executemany in the launch's own transaction), complete, cancel; spend and results. Each
change runs in one unit of work with the campaign's row locked; the change and its event commit
together."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm_campaigns.adapters import repository as repo
from crm_campaigns.adapters.contacts_directory import ContactsDirectory, Target
from crm_campaigns.adapters.deals_client import DealsClient
from crm_campaigns.domain import campaigns as rules
from crm_campaigns.domain import results as figures
from crm_campaigns.domain.campaigns import Campaign, CampaignStatus, CampaignType
from crm_campaigns.domain.members import CallOutcome, MemberStatus, round_robin
from crm_campaigns.entrypoints import convert
from crm_campaigns.settings import CampaignsSettings
from crm_platform.context import current_actor
from crm_platform.db import Database, UnitOfWork
from crm_platform.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from crm_platform.idempotency import remembered, run_once
from crm_platform.ids import is_valid_id, new_id
from crm_platform.listing import Page, read_page
from crm_platform.money import parse_amount, parse_currency, round_amount
from crm_platform.protoconv import timestamp
from crm_platform.versioning import check_version

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Campaigns:
    """What every use case of the service needs: its database, its peers, its settings, a clock."""

    db: Database
    directory: ContactsDirectory
    deals: DealsClient
    settings: CampaignsSettings
    clock: Clock = utc_now
    # Woken when a mailing is queued (the background sender), set by the bootstrap.
    on_mail_queued: Callable[[], None] = field(default=lambda: None)

    def today(self) -> date:
        return self.clock().date()


def not_found(campaign_id: str) -> NotFound:
    return NotFound(f"campaign '{campaign_id}' not found", reason="campaign_not_found", metadata={"id": campaign_id})


def read_campaign(session: Session, campaign_id: str, field_name: str = "campaign_id") -> Campaign:
    if not campaign_id:
        raise InvalidArgument.field(field_name, "is required")
    c = repo.get_campaign(session, campaign_id) if is_valid_id(campaign_id) else None
    if c is None:
        raise not_found(campaign_id)
    return c


def locked(uow: UnitOfWork, campaign_id: str, field_name: str = "campaign_id") -> Campaign:
    if not campaign_id:
        raise InvalidArgument.field(field_name, "is required")
    c = repo.get_campaign(uow.session, campaign_id, for_update=True) if is_valid_id(campaign_id) else None
    if c is None:
        raise not_found(campaign_id)
    return c


def save(uow: UnitOfWork, before: Campaign, after: Campaign, now: datetime) -> Campaign:
    after = replace(after, updated_at=now, version=before.version + 1)
    if not repo.save_campaign(uow.session, after, before.version):
        raise Conflict(f"campaign '{before.id}' changed meanwhile: read it again and retry", reason="version_mismatch")
    return after


def to_proto(c: Campaign, today: date) -> pb.Campaign:
    return convert.campaign_to_proto(rules.started(c, today))


# --- CRUD --------------------------------------------------------------------------------------


def create_campaign(
    w: Campaigns, draft: Campaign, request_id: str = "", allowed_owner_ids: Sequence[str] = ()
) -> pb.CreateCampaignResponse:
    """A draft campaign, with campaign_created. `allowed_owner_ids`: the owners whose records the
    campaign's owner may see (empty = any); a prospects target naming another is INVALID_ARGUMENT."""
    checked = rules.validated(draft)
    rules.check_target_scope(checked.target, allowed_owner_ids)

    def change(uow: UnitOfWork) -> pb.CreateCampaignResponse:
        now = w.clock()
        c = replace(
            checked,
            id=new_id(),
            status=CampaignStatus.DRAFT,
            cost_amount=round_amount(Decimal(0), checked.currency_code),
            webhook_secret=secrets.token_urlsafe(24),
            created_at=now,
            updated_at=now,
            version=1,
        )
        repo.add_campaign(uow.session, c)
        message = convert.campaign_to_proto(c)
        uow.add_event(events_pb2.CampaignCreated(campaign=message))
        return pb.CreateCampaignResponse(campaign=message)

    return run_once(w.db, "CreateCampaign", request_id, pb.CreateCampaignResponse, change)


def get_campaign(w: Campaigns, campaign_id: str) -> pb.Campaign:
    with w.db.read() as session:
        return to_proto(read_campaign(session, campaign_id, "id"), w.today())


def batch_get(w: Campaigns, ids: Sequence[str]) -> pb.BatchGetCampaignsResponse:
    if len(ids) > 1000:
        raise InvalidArgument.field("ids", f"at most 1000 ids per call, got {len(ids)}")
    with w.db.read() as session:
        found = repo.get_campaigns(session, [i for i in ids if is_valid_id(i)])
    known = {c.id for c in found}
    today = w.today()
    return pb.BatchGetCampaignsResponse(
        campaigns=[to_proto(c, today) for c in found], missing_ids=[i for i in dict.fromkeys(ids) if i not in known]
    )


def list_campaigns(
    w: Campaigns, filters: dict[str, Any], page_size: int, page_token: str
) -> tuple[list[pb.Campaign], str]:
    token_filters = {**filters, "active_on": str(filters.get("active_on") or "")}
    page: Page[Campaign] = read_page(
        w.db,
        token_filters,
        page_size,
        page_token,
        lambda session, limit, after: repo.list_campaigns(session, limit=limit, after_id=after, **filters),
    )
    today = w.today()
    return [to_proto(c, today) for c in page.items], page.next_page_token


def update_campaign(
    w: Campaigns, draft: Campaign, mask: Sequence[str], expected_version: int, allowed_owner_ids: Sequence[str] = ()
) -> pb.Campaign:
    """The masked fields changed, with campaign_updated. A change of the target or of the owner
    is checked against `allowed_owner_ids` (the scope of the owner after the update), as on create;
    other changes leave an older target as it is (a launch narrows it anyway)."""
    with w.db.uow() as uow:
        current = locked(uow, draft.id, "campaign.id")
        after, changed = rules.updated(current, draft, mask, expected_version)
        if not changed:
            return to_proto(current, w.today())
        if {"target", "owner_id"} & set(changed):
            rules.check_target_scope(after.target, allowed_owner_ids)
        now = w.clock()
        saved = save(uow, current, after, now)
        message = convert.campaign_to_proto(saved)
        uow.add_event(events_pb2.CampaignUpdated(campaign=message, changed_fields=changed))
        uow.commit()
        return to_proto(saved, w.today())


def delete_campaign(w: Campaigns, campaign_id: str) -> None:
    with w.db.uow() as uow:
        c = locked(uow, campaign_id, "id")
        rules.check_deletable(c)
        repo.delete_campaign(uow.session, c.id)
        uow.add_event(events_pb2.CampaignDeleted(campaign=convert.campaign_to_proto(c)))
        uow.commit()


# --- Launch ------------------------------------------------------------------------------------


def member_row(campaign_id: str, t: Target, status: MemberStatus, rep: str, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "campaign_id": campaign_id,
        "record_key": t.record_key,
        "client_id": t.client_id,
        "contact_id": t.contact_id,
        "prospect_id": t.prospect_id,
        "parent_client_id": t.parent_client_id,
        "email": t.email.strip().lower()[:320],
        "phone": t.phone[:50],
        "display_name": t.display_name[:300],
        "first_name": t.first_name[:200],
        "last_name": t.last_name[:200],
        "client_name": t.client_name[:300],
        "status": status.value,
        "assigned_rep_id": rep,
        "status_time": now,
        "version": 1,
    }


def _launch_rows(
    session: Session, c: Campaign, targets: list[Target], rep_ids: list[str], now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """The members' rows: skipped when unreachable on the campaign's channel (no e-mail or an
    unsubscribed one for a mailing, no phone for a call list); reps assigned in turn to the
    reachable members of a call list."""
    blocked = repo.suppressed(session, [t.email for t in targets]) if c.type is CampaignType.MAILING else set()
    reachable: list[bool] = []
    for t in targets:
        if c.type is CampaignType.MAILING:
            reachable.append(bool(t.email) and t.email.lower() not in blocked)
        elif c.type is CampaignType.TELEMARKETING:
            reachable.append(bool(t.phone))
        else:
            reachable.append(True)
    reps = iter(round_robin(sum(reachable), rep_ids) if c.type is CampaignType.TELEMARKETING else [])
    rows = []
    skipped = 0
    for t, ok in zip(targets, reachable, strict=True):
        if not ok:
            skipped += 1
        rows.append(
            member_row(c.id, t, MemberStatus.PENDING if ok else MemberStatus.SKIPPED, next(reps, "") if ok else "", now)
        )
    return rows, skipped


def preview_segment(
    w: Campaigns, campaign_id: str, allowed_owner_ids: Sequence[str] = (), sample_size: int = 0
) -> pb.PreviewSegmentResponse:
    """Who a launch would make members of now: the target segment narrowed as the launch narrows
    it, split into reachable and skipped the same way (`_launch_rows`), and the first few. Nothing
    is written; a campaign already launched answers with its members' counts and no sample."""
    if sample_size < 0:
        raise InvalidArgument.field("sample_size", "must not be negative")
    size = min(sample_size or 20, 100)
    with w.db.read() as session:
        c = read_campaign(session, campaign_id)
        if c.status is not CampaignStatus.DRAFT:
            launched = _launched_answer(w, session, c)
            return pb.PreviewSegmentResponse(member_count=launched.member_count, skipped_count=launched.skipped_count)
    segment = rules.scoped_segment(c.target, allowed_owner_ids) if c.target.kind else None
    targets = list({t.record_key: t for t in w.directory.segment(segment)}.values()) if segment else []
    with w.db.read() as session:
        rows, skipped = _launch_rows(session, c, targets, [c.owner_id], w.clock())
    sample = [
        pb.Member(
            campaign_id=c.id,
            client_id=r["client_id"],
            contact_id=r["contact_id"],
            prospect_id=r["prospect_id"],
            email=r["email"],
            phone=r["phone"],
            display_name=r["display_name"],
            status=convert.MEMBER_STATUSES.to_proto(MemberStatus(r["status"])),
        )
        for r in rows[:size]
    ]
    return pb.PreviewSegmentResponse(member_count=len(rows), skipped_count=skipped, sample=sample)


def launch_campaign(
    w: Campaigns,
    campaign_id: str,
    rep_ids: Sequence[str],
    expected_version: int,
    allowed_owner_ids: Sequence[str] = (),
) -> pb.LaunchCampaignResponse:
    """Snapshots the segment into members and starts (or schedules) the campaign, with
    campaign_launched. A campaign already launched answers as it stands (a retry adds nobody).
    A prospects segment is narrowed to `allowed_owner_ids` (the owners whose prospects the
    campaign's owner may see; empty = any), silently: the owner's teams may have changed since
    the target was checked, and the members must never show what the owner could not open."""
    problems = [i for i, r in enumerate(rep_ids) if not is_valid_id(r)]
    if problems:
        raise InvalidArgument.field(f"rep_ids[{problems[0]}]", f"'{rep_ids[problems[0]]}' is not a user id")
    for _attempt in range(3):
        with w.db.read() as session:
            c = read_campaign(session, campaign_id)
            if c.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
                return _launched_answer(w, session, c)
        check_version("campaign", c.id, c.version, expected_version)
        rules.launched(c, w.today(), w.clock())  # refused before reading the segment
        segment = rules.scoped_segment(c.target, allowed_owner_ids) if c.target.kind else None
        targets = list({t.record_key: t for t in w.directory.segment(segment)}.values()) if segment else []
        with w.db.uow() as uow:
            stored = locked(uow, campaign_id)
            if stored.version != c.version:
                continue  # launched or changed meanwhile: look again
            now = w.clock()
            after = rules.launched(stored, w.today(), now)
            reps = list(dict.fromkeys(rep_ids)) or [stored.owner_id]
            rows, skipped = _launch_rows(uow.session, stored, targets, reps, now)
            repo.insert_members(uow.session, rows)
            saved = save(uow, stored, after, now)
            message = convert.campaign_to_proto(saved)
            uow.add_event(events_pb2.CampaignLaunched(campaign=message, member_count=len(rows)))
            uow.commit()
            return pb.LaunchCampaignResponse(campaign=message, member_count=len(rows), skipped_count=skipped)
    raise Conflict(f"campaign '{campaign_id}' keeps changing: read it again and retry", reason="version_mismatch")


def _launched_answer(w: Campaigns, session: Session, c: Campaign) -> pb.LaunchCampaignResponse:
    return pb.LaunchCampaignResponse(
        campaign=to_proto(c, w.today()),
        member_count=repo.count_members(session, c.id),
        skipped_count=repo.count_members(session, c.id, MemberStatus.SKIPPED.value),
    )


def start_due_campaigns(w: Campaigns) -> int:
    """Stores RUNNING on the scheduled campaigns whose start date has come, with campaign_updated
    (changed_fields ["status"]); reads already report them running. Returns how many."""
    with w.db.read() as session:
        due = repo.due_scheduled(session, w.today())
    started = 0
    for campaign_id in due:
        with w.db.uow() as uow:
            c = locked(uow, campaign_id)
            after = rules.started(c, w.today())
            if after is c:
                continue
            saved = save(uow, c, after, w.clock())
            uow.add_event(
                events_pb2.CampaignUpdated(campaign=convert.campaign_to_proto(saved), changed_fields=["status"])
            )
            uow.commit()
            started += 1
    return started


# --- Complete, cancel --------------------------------------------------------------------------


def complete_campaign(w: Campaigns, campaign_id: str, expected_version: int) -> pb.Campaign:
    with w.db.uow() as uow:
        c = rules.started(locked(uow, campaign_id), w.today())
        check_version("campaign", c.id, c.version, expected_version)
        now = w.clock()
        saved = save(uow, c, rules.completed(c, now), now)
        repo.set_send_state(uow.session, c.id, "done")
        message = convert.campaign_to_proto(saved)
        uow.add_event(events_pb2.CampaignCompleted(campaign=message, results=compute_results(uow.session, saved, now)))
        uow.commit()
        return message


def cancel_campaign(w: Campaigns, campaign_id: str, reason: str, expected_version: int) -> pb.Campaign:
    if len(reason) > 500:
        raise InvalidArgument.field("reason", "at most 500 characters")
    with w.db.uow() as uow:
        c = locked(uow, campaign_id)
        check_version("campaign", c.id, c.version, expected_version)
        now = w.clock()
        saved = save(uow, c, rules.cancelled(c, reason, now), now)
        repo.set_send_state(uow.session, c.id, "done")  # the sender stops with its current member
        message = convert.campaign_to_proto(saved)
        uow.add_event(events_pb2.CampaignCancelled(campaign=message))
        uow.commit()
        return message


# --- Spend and results -------------------------------------------------------------------------


def record_spend(
    w: Campaigns, campaign_id: str, spend_date: date | None, amount: Any, description: str, request_id: str
) -> pb.RecordSpendResponse:
    if request_id:
        with w.db.read() as session:
            earlier = remembered(session, "RecordSpend", request_id, pb.RecordSpendResponse)
        if earlier is not None:
            return earlier
    if spend_date is None:
        raise InvalidArgument.field("spend_date", "is required")
    if amount is None:
        raise InvalidArgument.field("amount", "is required")
    value = parse_amount(amount.amount, "amount.amount")
    currency = parse_currency(amount.currency_code, "amount.currency_code")
    if value <= 0:
        raise InvalidArgument.field("amount.amount", "must be more than zero")
    if len(description) > 500:
        raise InvalidArgument.field("description", "at most 500 characters")

    def change(uow: UnitOfWork) -> pb.RecordSpendResponse:
        c = locked(uow, campaign_id)
        if currency != c.currency_code:
            raise InvalidArgument.field(
                "amount.currency_code", f"the campaign's budget is in {c.currency_code}, not {currency}"
            )
        if c.status is CampaignStatus.CANCELLED:
            raise FailedPrecondition(f"campaign '{c.id}' is cancelled", reason="campaign_closed")
        now = w.clock()
        rounded = round_amount(value, currency)
        row = {
            "id": new_id(),
            "campaign_id": c.id,
            "spend_date": spend_date,
            "amount": rounded,
            "currency_code": currency,
            "description": description.strip(),
            "recorded_by": current_actor(),
            "created_at": now,
        }
        repo.add_spend(uow.session, row)
        saved = save(uow, c, replace(c, cost_amount=c.cost_amount + rounded), now)
        spend = convert.spend_to_proto(row)
        uow.add_event(events_pb2.SpendRecorded(spend=spend, campaign_cost=convert.money(saved.cost_amount, currency)))
        return pb.RecordSpendResponse(spend=spend, campaign=convert.campaign_to_proto(saved))

    return run_once(w.db, "RecordSpend", request_id, pb.RecordSpendResponse, change)


def compute_results(session: Session, c: Campaign, now: datetime) -> pb.CampaignResults:
    stats = repo.member_stats(session, c.id)
    cost = round_amount(repo.total_spend(session, c.id), c.currency_code)
    opened = won = 0
    won_amount = Decimal(0)
    others: dict[str, Decimal] = defaultdict(Decimal)
    for status, amount, currency in repo.campaign_deal_rows(session, c.id):
        opened += 1
        if status == "won":
            won += 1
            if currency == c.currency_code:
                won_amount += amount
            else:
                others[currency] += amount
    out = pb.CampaignResults(
        campaign_id=c.id,
        member_count=stats["member_count"],
        members_reached=stats["members_reached"],
        mails_sent=stats["mails_sent"],
        bounces=stats["bounces"],
        opens=stats["opens"],
        clicks=stats["clicks"],
        unsubscribes=stats["unsubscribes"],
        calls_made=stats["calls_made"],
        calls_by_outcome=[
            pb.CallOutcomeCount(outcome=convert.OUTCOMES.to_proto(o), count=stats["calls_by_outcome"].get(o.value, 0))
            for o in CallOutcome
            if stats["calls_by_outcome"].get(o.value)
        ],
        leads=stats["leads"],
        deals_opened=opened,
        deals_won=won,
        won_amount=convert.money(round_amount(won_amount, c.currency_code), c.currency_code),
        other_won_amounts=[convert.money(round_amount(v, k), k) for k, v in sorted(others.items())],
        cost=convert.money(cost, c.currency_code),
        roi=figures.roi(won_amount, cost),
        compute_time=timestamp(now),
    )
    per_lead = figures.cost_per_lead(cost, stats["leads"], c.currency_code)
    if per_lead is not None:
        out.cost_per_lead.CopyFrom(convert.money(per_lead, c.currency_code))
    return out


def campaign_results(w: Campaigns, campaign_id: str) -> pb.CampaignResults:
    with w.db.read() as session:
        return compute_results(session, read_campaign(session, campaign_id), w.clock())


def list_members(w: Campaigns, request: pb.ListMembersRequest) -> tuple[list[pb.Member], str]:
    from crm_platform.protoconv import time_from_proto

    status = convert.MEMBER_STATUSES.from_proto(request.status, "status")
    outcome = convert.OUTCOMES.from_proto(request.last_call_outcome, "last_call_outcome")
    before = time_from_proto(request, "call_back_before")
    with w.db.read() as session:
        read_campaign(session, request.campaign_id)
    filters: repo.MemberFilters = {
        "query": request.query,
        "status": status.value if status else "",
        "assigned_rep_id": request.assigned_rep_id,
        "last_call_outcome": outcome.value if outcome else "",
        "call_back_before": before,
    }
    page = read_page(
        w.db,
        {**filters, "campaign_id": request.campaign_id, "call_back_before": before.isoformat() if before else ""},
        request.page_size,
        request.page_token,
        lambda session, limit, after: repo.list_members(
            session, request.campaign_id, limit=limit, after_id=after, **filters
        ),
    )
    return [convert.member_to_proto(r) for r in page.items], page.next_page_token


def member_changed(uow: UnitOfWork, member_id: str, previous: str, ctype: CampaignType) -> pb.Member:
    """Stages member_status_changed with the member as stored now; returns it."""
    row = repo.get_member(uow.session, member_id)
    message = convert.member_to_proto(row)
    uow.add_event(
        events_pb2.MemberStatusChanged(
            member=message,
            previous_status=convert.MEMBER_STATUSES.to_proto(MemberStatus(previous)),
            campaign_type=convert.TYPES.to_proto(ctype),
        )
    )
    return message
