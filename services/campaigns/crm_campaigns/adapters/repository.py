"""Storing and reading campaigns, members, suppressions, spend and the campaigns' deals: the
translation between table rows and domain objects (campaigns) or plain rows (members, read and
written column by column by the use cases). Bulk paths use Core executemany."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm_campaigns.adapters.tables import campaign_deals, campaigns, mail_events, members, spends, suppressions
from crm_campaigns.domain.campaigns import (
    Campaign,
    CampaignStatus,
    CampaignType,
    MailingContent,
    MailProvider,
    Segment,
    TargetKind,
)
from crm_platform.db import rows_changed, utc
from crm_platform.listing import chunked
from crm_platform.money import round_amount

# --- Campaigns ---------------------------------------------------------------------------------


def _segment_json(s: Segment) -> dict[str, Any]:
    return {
        "kind": s.kind.value if s.kind else "",
        **{
            name: list(getattr(s, name))
            for name in (
                "segment_tags",
                "industries",
                "cities",
                "country_codes",
                "owner_ids",
                "prospect_statuses",
                "prospect_sources",
            )
        },
    }


def _segment(data: Mapping[str, Any]) -> Segment:
    kind = data.get("kind") or ""
    return Segment(
        kind=TargetKind(kind) if kind else None,
        **{k: tuple(v) for k, v in data.items() if k != "kind"},
    )


def _mailing_json(m: MailingContent | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "subject": m.subject,
        "html_body": m.html_body,
        "text_body": m.text_body,
        "provider": m.provider.value if m.provider else "",
        "from_name": m.from_name,
        "from_email": m.from_email,
        "reply_to_email": m.reply_to_email,
    }


def _mailing(data: Mapping[str, Any] | None) -> MailingContent | None:
    if data is None:
        return None
    provider = data.get("provider") or ""
    return MailingContent(**{**data, "provider": MailProvider(provider) if provider else None})


def _values(c: Campaign) -> dict[str, Any]:
    return {
        "name": c.name,
        "type": c.type.value,
        "status": c.status.value,
        "start_date": c.start_date,
        "end_date": c.end_date,
        "owner_id": c.owner_id,
        "budget_amount": c.budget_amount,
        "currency_code": c.currency_code,
        "cost_amount": c.cost_amount,
        "description": c.description,
        "target": _segment_json(c.target),
        "mailing": _mailing_json(c.mailing),
        "external_id": c.external_id,
        "webhook_secret": c.webhook_secret,
        "launch_time": c.launch_time,
        "complete_time": c.complete_time,
        "cancel_time": c.cancel_time,
        "cancel_reason": c.cancel_reason,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def _campaign(row: Any) -> Campaign:
    return Campaign(
        id=row.id,
        name=row.name,
        type=CampaignType(row.type),
        status=CampaignStatus(row.status),
        start_date=row.start_date,
        end_date=row.end_date,
        owner_id=row.owner_id,
        # PostgreSQL answers NUMERIC(24, 6) with six places: back to the currency's own.
        budget_amount=round_amount(row.budget_amount, row.currency_code),
        currency_code=row.currency_code,
        cost_amount=round_amount(row.cost_amount, row.currency_code),
        description=row.description,
        target=_segment(row.target),
        mailing=_mailing(row.mailing),
        external_id=row.external_id,
        webhook_secret=row.webhook_secret,
        launch_time=utc(row.launch_time),
        complete_time=utc(row.complete_time),
        cancel_time=utc(row.cancel_time),
        cancel_reason=row.cancel_reason,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        version=row.version,
    )


def add_campaign(session: Session, c: Campaign) -> None:
    session.execute(insert(campaigns).values(id=c.id, created_at=c.created_at, **_values(c)))


def get_campaign(session: Session, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
    stmt = select(campaigns).where(campaigns.c.id == campaign_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).first()
    return None if row is None else _campaign(row)


def get_campaigns(session: Session, ids: Iterable[str]) -> list[Campaign]:
    out: list[Campaign] = []
    for chunk in chunked(set(ids)):
        out += [_campaign(r) for r in session.execute(select(campaigns).where(campaigns.c.id.in_(chunk)))]
    return out


def save_campaign(session: Session, c: Campaign, read_version: int) -> bool:
    """Stores the campaign if it is still at `read_version`; False when another change won."""
    res = session.execute(
        update(campaigns).where(campaigns.c.id == c.id, campaigns.c.version == read_version).values(**_values(c))
    )
    return bool(rows_changed(res))


def delete_campaign(session: Session, campaign_id: str) -> None:
    session.execute(delete(members).where(members.c.campaign_id == campaign_id))
    session.execute(delete(spends).where(spends.c.campaign_id == campaign_id))
    session.execute(delete(campaigns).where(campaigns.c.id == campaign_id))


def _campaign_conditions(
    *,
    query: str = "",
    owner_ids: Sequence[str] = (),
    type: str = "",
    status: str = "",
    active_on: date | None = None,
    member_rep_id: str = "",
) -> list[Any]:
    cond: list[Any] = []
    if member_rep_id:
        assigned = select(members.c.id).where(
            members.c.campaign_id == campaigns.c.id, members.c.assigned_rep_id == member_rep_id
        )
        cond.append(assigned.exists())
    if query:
        like = f"%{query.strip().lower()}%"
        cond.append(or_(func.lower(campaigns.c.name).like(like), func.lower(campaigns.c.description).like(like)))
    if owner_ids:
        cond.append(campaigns.c.owner_id.in_(owner_ids))
    if type:
        cond.append(campaigns.c.type == type)
    if status:
        cond.append(campaigns.c.status == status)
    if active_on is not None:
        cond.append(or_(campaigns.c.start_date.is_(None), campaigns.c.start_date <= active_on))
        cond.append(or_(campaigns.c.end_date.is_(None), campaigns.c.end_date >= active_on))
    return cond


def list_campaigns(session: Session, *, limit: int, after_id: str | None, **filters: Any) -> list[Campaign]:
    cond = _campaign_conditions(**filters)
    if after_id:
        cond.append(campaigns.c.id > after_id)
    rows = session.execute(select(campaigns).where(*cond).order_by(campaigns.c.id).limit(limit))
    return [_campaign(r) for r in rows]


def due_scheduled(session: Session, today: date) -> list[str]:
    """Scheduled campaigns whose start date has come."""
    return list(
        session.scalars(
            select(campaigns.c.id).where(
                campaigns.c.status == "scheduled",
                or_(campaigns.c.start_date.is_(None), campaigns.c.start_date <= today),
            )
        )
    )


def set_send_state(session: Session, campaign_id: str, state: str, provider_campaign_id: str | None = None) -> None:
    values: dict[str, Any] = {"send_state": state}
    if provider_campaign_id is not None:
        values["provider_campaign_id"] = provider_campaign_id
    session.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))


def finish_send_job(session: Session, campaign_id: str) -> None:
    """The mailing job done, unless members were queued meanwhile (one statement: a SendMailing
    committing at the same moment is never left waiting)."""
    left = select(members.c.id).where(members.c.campaign_id == campaign_id, members.c.send_state == "queued")
    session.execute(update(campaigns).where(campaigns.c.id == campaign_id, ~left.exists()).values(send_state="done"))


def send_job(session: Session, campaign_id: str) -> tuple[str, str]:
    """(send_state, provider_campaign_id) of the campaign's mailing job."""
    row = session.execute(
        select(campaigns.c.send_state, campaigns.c.provider_campaign_id).where(campaigns.c.id == campaign_id)
    ).first()
    return ("", "") if row is None else (row.send_state, row.provider_campaign_id)


def campaigns_with_queued_mail(session: Session) -> list[str]:
    return list(session.scalars(select(campaigns.c.id).where(campaigns.c.send_state == "queued").order_by("id")))


# --- Members -----------------------------------------------------------------------------------


def insert_members(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Many members in one executemany per chunk (the snapshot of a large segment)."""
    for start in range(0, len(rows), 5000):
        session.execute(insert(members), list(rows[start : start + 5000]))


def member_keys(session: Session, campaign_id: str) -> set[str]:
    return set(session.scalars(select(members.c.record_key).where(members.c.campaign_id == campaign_id)))


def get_member(session: Session, member_id: str, *, for_update: bool = False) -> Any:
    stmt = select(members).where(members.c.id == member_id)
    return session.execute(stmt.with_for_update() if for_update else stmt).first()


def member_by_key(session: Session, campaign_id: str, record_key: str) -> Any:
    return session.execute(
        select(members).where(members.c.campaign_id == campaign_id, members.c.record_key == record_key)
    ).first()


def member_by_email(session: Session, campaign_id: str, email: str) -> Any:
    return session.execute(
        select(members)
        .where(members.c.campaign_id == campaign_id, members.c.email == email.strip().lower())
        .order_by(members.c.id)
        .limit(1)
    ).first()


def members_by_ids(session: Session, ids: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunked(set(ids)):
        out += list(session.execute(select(members).where(members.c.id.in_(chunk))))
    return out


def update_member(session: Session, member_id: str, read_version: int | None = None, **values: Any) -> bool:
    """Changes a member (bumping its version); with `read_version`, only if it is still at it."""
    stmt = update(members).where(members.c.id == member_id)
    if read_version is not None:
        stmt = stmt.where(members.c.version == read_version)
    res = session.execute(stmt.values(version=members.c.version + 1, **values))
    return bool(rows_changed(res))


class MemberFilters(TypedDict, total=False):
    """The filters of a member list ("" or None: not filtered on)."""

    query: str
    status: str
    assigned_rep_id: str
    last_call_outcome: str
    call_back_before: datetime | None


def list_members(
    session: Session,
    campaign_id: str,
    *,
    limit: int,
    after_id: str | None,
    query: str = "",
    status: str = "",
    assigned_rep_id: str = "",
    last_call_outcome: str = "",
    call_back_before: datetime | None = None,
) -> list[Any]:
    cond: list[Any] = [members.c.campaign_id == campaign_id]
    if after_id:
        cond.append(members.c.id > after_id)
    if query:
        like = f"%{query.strip().lower()}%"
        cond.append(
            or_(func.lower(members.c.display_name).like(like), members.c.email.like(like), members.c.phone.like(like))
        )
    if status:
        cond.append(members.c.status == status)
    if assigned_rep_id:
        cond.append(members.c.assigned_rep_id == assigned_rep_id)
    if last_call_outcome:
        cond.append(members.c.last_call_outcome == last_call_outcome)
    if call_back_before is not None:
        cond.append(members.c.call_back_time < call_back_before)
    return list(session.execute(select(members).where(and_(*cond)).order_by(members.c.id).limit(limit)))


def count_members(session: Session, campaign_id: str, status: str = "") -> int:
    cond = [members.c.campaign_id == campaign_id]
    if status:
        cond.append(members.c.status == status)
    return int(session.scalar(select(func.count()).select_from(members).where(*cond)) or 0)


def queue_members(session: Session, campaign_id: str) -> int:
    """Marks queued every member of the campaign with an address that was never queued (pending,
    not suppressed); returns how many."""
    suppressed = select(suppressions.c.email).where(suppressions.c.email == members.c.email)
    res = session.execute(
        update(members)
        .where(
            members.c.campaign_id == campaign_id,
            members.c.send_state == "",
            members.c.status == "pending",
            members.c.email != "",
            ~suppressed.exists(),
        )
        .values(send_state="queued")
    )
    return rows_changed(res)


def claim_members(session: Session, ids: Sequence[str]) -> list[str]:
    """queued → sending for those of `ids` still queued (another sender may have taken some);
    a suppressed address is marked failed instead. Returns the ids claimed."""
    if not ids:
        return []
    blocked = select(suppressions.c.email).where(suppressions.c.email == members.c.email)
    session.execute(
        update(members)
        .where(members.c.id.in_(ids), members.c.send_state == "queued", blocked.exists())
        .values(send_state="failed", send_error="unsubscribed", version=members.c.version + 1)
    )
    res = session.execute(
        update(members)
        .where(members.c.id.in_(ids), members.c.send_state == "queued")
        .values(send_state="sending", version=members.c.version + 1)
        .returning(members.c.id)
    )
    return [r[0] for r in res]


def next_queued(session: Session, campaign_id: str, limit: int) -> list[Any]:
    return list(
        session.execute(
            select(members)
            .where(members.c.campaign_id == campaign_id, members.c.send_state == "queued")
            .order_by(members.c.id)
            .limit(limit)
        )
    )


def members_in_state(session: Session, campaign_id: str, state: str) -> list[Any]:
    return list(
        session.execute(
            select(members).where(members.c.campaign_id == campaign_id, members.c.send_state == state).order_by("id")
        )
    )


def mark_in_doubt(session: Session, campaign_id: str | None = None) -> int:
    """Members left "sending" by a sender that stopped: whether their mail left is unknown, so they
    are never sent again (at most once)."""
    stmt = update(members).where(members.c.send_state == "sending")
    if campaign_id:
        stmt = stmt.where(members.c.campaign_id == campaign_id)
    res = session.execute(stmt.values(send_state="in_doubt"))
    return rows_changed(res)


def member_stats(session: Session, campaign_id: str) -> dict[str, Any]:
    m = members.c
    row = session.execute(
        select(
            func.count(),
            func.count(m.sent_at),
            func.count(m.opened_at),
            func.count(m.clicked_at),
            func.count(m.bounced_at),
            func.count(m.unsubscribed_at),
            func.sum(m.call_count),
            func.count().filter(m.created_prospect_id != ""),
            func.count().filter(and_(m.status != "bounced", or_(m.sent_at.is_not(None), m.call_count > 0))),
        ).where(m.campaign_id == campaign_id)
    ).one()
    outcomes = Counter(
        {
            r[0]: int(r[1])
            for r in session.execute(
                select(m.last_call_outcome, func.count())
                .where(m.campaign_id == campaign_id, m.last_call_outcome != "")
                .group_by(m.last_call_outcome)
            )
        }
    )
    return {
        "member_count": int(row[0]),
        "mails_sent": int(row[1]),
        "opens": int(row[2]),
        "clicks": int(row[3]),
        "bounces": int(row[4]),
        "unsubscribes": int(row[5]),
        "calls_made": int(row[6] or 0),
        "leads": int(row[7]),
        "members_reached": int(row[8]),
        "calls_by_outcome": outcomes,
    }


# --- Suppressions, mail events -----------------------------------------------------------------


def suppressed(session: Session, emails: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunked({e for e in emails if e}):
        found |= set(session.scalars(select(suppressions.c.email).where(suppressions.c.email.in_(chunk))))
    return found


def suppress(session: Session, email: str, reason: str, campaign_id: str, member_id: str, at: datetime) -> None:
    if email and not suppressed(session, [email]):
        session.execute(
            insert(suppressions).values(
                email=email, reason=reason, campaign_id=campaign_id, member_id=member_id, created_at=at
            )
        )


def event_seen(session: Session, campaign_id: str, external_event_id: str, at: datetime) -> bool:
    """True when the provider's event was recorded before; records it otherwise."""
    found = session.scalar(
        select(func.count())
        .select_from(mail_events)
        .where(mail_events.c.campaign_id == campaign_id, mail_events.c.external_event_id == external_event_id)
    )
    if found:
        return True
    session.execute(
        insert(mail_events).values(campaign_id=campaign_id, external_event_id=external_event_id, created_at=at)
    )
    return False


# --- Spend and deals ---------------------------------------------------------------------------


def add_spend(session: Session, values: Mapping[str, Any]) -> None:
    session.execute(insert(spends).values(**values))


def total_spend(session: Session, campaign_id: str) -> Decimal:
    """Summed in Python: SQLite would sum the text-stored decimals as floats."""
    return sum(session.scalars(select(spends.c.amount).where(spends.c.campaign_id == campaign_id)), Decimal(0))


def record_deal(
    session: Session,
    deal_id: str,
    *,
    campaign_id: str,
    status: str,
    amount: Decimal,
    currency: str,
    version: int,
    counted: bool,
    at: datetime,
) -> None:
    """Stores what a deals event says of a deal, unless a newer version of it is already stored (one
    statement: INSERT ... ON CONFLICT DO UPDATE ... WHERE stored version < this one, so two
    consumers racing or events arriving out of order end with the newest)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "campaign_id": campaign_id,
        "status": status,
        "amount": amount,
        "currency_code": currency,
        "updated_at": at,
        "deal_version": version,
        "counted": counted,
    }
    stmt = dialect.insert(campaign_deals).values(deal_id=deal_id, **values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[campaign_deals.c.deal_id],
            set_={name: stmt.excluded[name] for name in values},
            where=campaign_deals.c.deal_version < stmt.excluded.deal_version,
        )
    )


def campaign_deal_rows(session: Session, campaign_id: str) -> list[Any]:
    return list(
        session.execute(
            select(campaign_deals.c.status, campaign_deals.c.amount, campaign_deals.c.currency_code).where(
                campaign_deals.c.campaign_id == campaign_id, campaign_deals.c.counted
            )
        )
    )
