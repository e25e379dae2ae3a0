"""The projectors: the other services' events written into the read models (adapters/tables.py).

Every function takes a batch of events of one type (the consumer hands over consecutive events of
a type together) and writes it with one prebuilt Core statement executed for many rows:

    INSERT ... ON CONFLICT (id) DO UPDATE SET ... WHERE rm.version < excluded.version

so a redelivered or late event changes nothing, whatever the order (PostgreSQL and SQLite both
take it; the statement comes from sqlalchemy.dialects.<name>.insert). Within a batch only the
newest version of each record is kept (PostgreSQL refuses to update one row twice in a statement).

Deletes leave a tombstone: a deletion event carries the record at its last version, so the
tombstone applies when its version is >= the stored one and then blocks every event of that
version or older. The contacts service's ClientDeleted/ContactDeleted/ProspectDeleted carry only an
id: their tombstone takes TOMBSTONE_VERSION, above any real version (such a record is gone for
good). A non-deletion event never brings a tombstone back.

Campaign cost: SpendRecorded carries the campaign's total cost but no version, so cost_minor only
grows (the greater of stored and incoming, also for campaign events): spends are never undone in
the campaigns service, and a late event cannot lower it. A spend that arrives before its campaign
leaves a placeholder row at version 0 that the campaign's first event fills in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.campaigns.v1 import campaigns_pb2
from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import deals_pb2
from crm.identity.v1 import identity_pb2
from crm.quotes.v1 import quotes_pb2
from crm_platform.money import minor_unit_exponent
from crm_platform.protoconv import date_from_proto, time_from_proto
from crm_reporting.adapters import tables as t
from crm_reporting.domain.figures import round_to_minor

# The version of a tombstone left by a deletion event that names only an id.
TOMBSTONE_VERSION = 2**62

Row = dict[str, Any]


# ---- statements -------------------------------------------------------------------------------


def _dialect_insert(session: Session) -> Callable[[sa.Table], Any]:
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


_statements: dict[tuple[str, str, frozenset[str], bool], Any] = {}


def _greater(stored: Any, incoming: Any) -> Any:
    return sa.case((incoming > stored, incoming), else_=stored)


# Columns merged instead of overwritten when a newer version arrives.
_MERGED: dict[str, dict[str, Callable[[Any, Any], Any]]] = {
    "rm_campaigns": {"cost_minor": _greater, "member_count": _greater},
    # The first conversion time seen stays (a later update of a converted prospect keeps it).
    "rm_prospects": {"converted_at": lambda stored, incoming: sa.func.coalesce(stored, incoming)},
}


def _upsert_statement(session: Session, table: sa.Table, columns: frozenset[str], tombstone: bool) -> Any:
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, columns, tombstone)
    stmt = _statements.get(key)
    if stmt is None:
        insert = _dialect_insert(session)(table)
        merged = _MERGED.get(table.name, {})
        set_ = {
            name: merged[name](table.c[name], insert.excluded[name]) if name in merged else insert.excluded[name]
            for name in sorted(columns - {"id"})
        }
        if tombstone:
            where = table.c.version <= insert.excluded.version
        else:
            where = sa.and_(table.c.version < insert.excluded.version, table.c.deleted == sa.false())
        stmt = insert.on_conflict_do_update(index_elements=[table.c.id], set_=set_, where=where)
        _statements[key] = stmt
    return stmt


def upsert(session: Session, table: sa.Table, rows: Iterable[Row], *, tombstone: bool = False) -> int:
    """Writes records, each only where newer than the stored one; returns the rows offered."""
    newest: dict[str, Row] = {}
    for row in rows:
        known = newest.get(row["id"])
        if known is None or row["version"] > known["version"] or (tombstone and row["version"] == known["version"]):
            newest[row["id"]] = row
    if not newest:
        return 0
    batch = list(newest.values())
    stmt = _upsert_statement(session, table, frozenset(batch[0]), tombstone)
    session.execute(stmt, batch)
    return len(batch)


def record_applied(session: Session, stream: str, events: Sequence[Message]) -> None:
    """rm_streams: events applied from `stream` and the newest event time (the figures' data_time)."""
    if not events:
        return
    newest = max(_event_time(e) for e in events)
    insert = _dialect_insert(session)(t.rm_streams)
    stmt = insert.values(stream=stream, events_applied=len(events), last_event_time=newest).on_conflict_do_update(
        index_elements=[t.rm_streams.c.stream],
        set_={
            "events_applied": t.rm_streams.c.events_applied + insert.excluded.events_applied,
            "last_event_time": sa.case(
                (t.rm_streams.c.last_event_time.is_(None), insert.excluded.last_event_time),
                (insert.excluded.last_event_time > t.rm_streams.c.last_event_time, insert.excluded.last_event_time),
                else_=t.rm_streams.c.last_event_time,
            ),
        },
    )
    session.execute(stmt)


# ---- field conversions ------------------------------------------------------------------------


def _event_time(event: Message) -> datetime:
    when = time_from_proto(event.meta, "occurred_at")
    assert when is not None, "an event without meta.occurred_at"
    return when


def _word(enum: Any, number: int, prefix: str) -> str:
    """An enum value as the read models store it: DEAL_STATUS_WON → "won"; unspecified → ""."""
    if not number:
        return ""
    try:
        return str(enum.Name(number)).removeprefix(prefix).lower()
    except ValueError:
        return ""


def _money(money: types_pb2.Money) -> tuple[str, int]:
    """(currency, minor units); an unset amount is 0 (source amounts are at the minor unit)."""
    currency = money.currency_code
    if not currency:
        return "", 0
    return currency, round_to_minor(Decimal(money.amount or "0"), minor_unit_exponent(currency))


def _decimal(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def _base(record: Any, event: Message, *, deleted: bool = False) -> Row:
    return {"id": record.id, "version": record.version, "deleted": deleted, "event_time": _event_time(event)}


def _id_tombstone(record_id: str, event: Message) -> Row:
    return {"id": record_id, "version": TOMBSTONE_VERSION, "deleted": True, "event_time": _event_time(event)}


# ---- identity -----------------------------------------------------------------------------------


def user_row(event: Any, deleted: bool = False) -> Row:
    u = event.user
    return _base(u, event, deleted=deleted) | {
        "email": u.email,
        "display_name": u.display_name,
        "role": _word(identity_pb2.Role, u.role, "ROLE_"),
        "team_id": u.team_id,
        "active": u.active,
        "time_zone": u.time_zone,
    }


def team_row(event: Any, deleted: bool = False) -> Row:
    team = event.team
    return _base(team, event, deleted=deleted) | {"name": team.name, "manager_id": team.manager_id}


# ---- contacts -----------------------------------------------------------------------------------


def client_row(event: Any, deleted: bool = False) -> Row:
    c = event.client
    tags = " ".join(tag.strip() for tag in c.segment_tags if tag.strip())
    return _base(c, event, deleted=deleted) | {
        "name": c.name,
        "kind": _word(contacts_pb2.ClientKind, c.kind, "CLIENT_KIND_"),
        "industry": c.industry,
        "segment_tags": f" {tags} " if tags else "",
        "city": c.address.city,
        "country_code": c.address.country_code,
        "owner_id": c.owner_id,
        "source": c.source,
        "archived": c.archived,
        "created_at": time_from_proto(c, "create_time"),
    }


def contact_row(event: Any, deleted: bool = False) -> Row:
    c = event.contact
    return _base(c, event, deleted=deleted) | {
        "client_id": c.client_id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "job_title": c.job_title,
        "email": c.email,
        "decision_role": _word(contacts_pb2.DecisionRole, c.decision_role, "DECISION_ROLE_"),
        "owner_id": c.owner_id,
        "archived": c.archived,
        "created_at": time_from_proto(c, "create_time"),
    }


def prospect_row(event: Any, deleted: bool = False) -> Row:
    p = event.prospect
    status = _word(contacts_pb2.ProspectStatus, p.status, "PROSPECT_STATUS_")
    converted_at = None
    if status == "converted":
        # The conversion event's time; for another event of a converted prospect, its update time
        # (kept only if no conversion time is known yet).
        if isinstance(event, contacts_events.ProspectConverted):
            converted_at = _event_time(event)
        else:
            converted_at = time_from_proto(p, "update_time")
    return _base(p, event, deleted=deleted) | {
        "company_name": p.company_name,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "source": _word(contacts_pb2.ProspectSource, p.source, "PROSPECT_SOURCE_"),
        "source_campaign_id": p.source_campaign_id,
        "status": status,
        "owner_id": p.owner_id,
        "converted_client_id": p.converted_client_id,
        "converted_deal_id": p.converted_deal_id,
        "created_at": time_from_proto(p, "create_time"),
        "converted_at": converted_at,
    }


# ---- deals --------------------------------------------------------------------------------------


def deal_row(event: Any, deleted: bool = False) -> Row:
    d = event.deal
    currency, amount_minor = _money(d.amount)
    status = _word(deals_pb2.DealStatus, d.status, "DEAL_STATUS_") or "open"
    created_at = time_from_proto(d, "create_time")
    won_at = time_from_proto(d, "won_time") if status == "won" else None
    lost_at = time_from_proto(d, "lost_time") if status == "lost" else None
    closed_at = won_at or lost_at
    cycle = d.sales_cycle_seconds
    if not cycle and won_at is not None and created_at is not None:
        cycle = max(0, int((won_at - created_at).total_seconds()))
    return _base(d, event, deleted=deleted) | {
        "title": d.title,
        "owner_id": d.owner_id,
        "client_id": d.client_id,
        "pipeline_id": d.pipeline_id,
        "stage_id": d.stage_id,
        "status": status,
        "probability": d.probability,
        "currency_code": currency,
        "amount_minor": amount_minor,
        "expected_close_date": date_from_proto(d, "expected_close_date"),
        "source_campaign_id": d.source_campaign_id,
        "source_prospect_id": d.source_prospect_id,
        "accepted_quote_id": d.accepted_quote_id,
        "lost_reason": d.lost_reason,
        "created_at": created_at,
        "won_at": won_at,
        "lost_at": lost_at,
        "closed_at": closed_at,
        "sales_cycle_seconds": cycle if status == "won" else 0,
        "product_ids": " ".join(dict.fromkeys(li.product_id for li in d.line_items if li.product_id)),
    }


def activity_row(event: Any, deleted: bool = False) -> Row:
    a = event.activity
    return _base(a, event, deleted=deleted) | {
        "kind": _word(deals_pb2.ActivityKind, a.kind, "ACTIVITY_KIND_"),
        "subject": a.subject[:300],
        "owner_id": a.owner_id,
        "status": _word(deals_pb2.ActivityStatus, a.status, "ACTIVITY_STATUS_"),
        "due_at": time_from_proto(a, "due_time"),
        "duration_seconds": a.duration_seconds,
        "done_at": time_from_proto(a, "done_time"),
        "outcome": a.outcome[:500],
        "deal_id": a.deal_id,
        "client_id": a.client_id,
        "contact_id": a.contact_id,
        "prospect_id": a.prospect_id,
        "campaign_id": a.campaign_id,
        "created_at": time_from_proto(a, "create_time"),
    }


def project_pipelines(session: Session, events: Sequence[Any], *, deleted: bool = False) -> None:
    """Pipelines with their stages: when a newer pipeline version applies, its stages replace the
    stored ones as a set (pipeline events are rare: one event at a time)."""
    for event in events:
        p = event.pipeline
        stored = session.execute(
            sa.select(t.rm_pipelines.c.version, t.rm_pipelines.c.deleted).where(t.rm_pipelines.c.id == p.id)
        ).first()
        if stored is not None and (
            stored.deleted or (stored.version > p.version if deleted else stored.version >= p.version)
        ):
            continue
        upsert(session, t.rm_pipelines, [_base(p, event, deleted=deleted) | {"name": p.name}], tombstone=deleted)
        session.execute(sa.delete(t.rm_stages).where(t.rm_stages.c.pipeline_id == p.id))
        if not deleted and p.stages:
            session.execute(
                sa.insert(t.rm_stages),
                [
                    {
                        "id": s.id,
                        "pipeline_id": p.id,
                        "name": s.name,
                        "position": i,
                        "default_probability": s.default_probability,
                        "kind": _word(deals_pb2.StageKind, s.kind, "STAGE_KIND_") or "open",
                    }
                    for i, s in enumerate(p.stages)
                ],
            )


# ---- quotes -------------------------------------------------------------------------------------


def product_row(event: Any, deleted: bool = False) -> Row:
    p = event.product
    return _base(p, event, deleted=deleted) | {
        "sku": p.sku,
        "name": p.name,
        "kind": _word(quotes_pb2.ProductKind, p.kind, "PRODUCT_KIND_"),
        "unit_of_measure": p.unit_of_measure,
        "currency_code": p.unit_price.currency_code,
        "unit_price": _decimal(p.unit_price.amount),
        "tax_rate": _decimal(p.tax_rate),
        "active": p.active,
        "created_at": time_from_proto(p, "create_time"),
    }


def quote_row(event: Any, deleted: bool = False) -> Row:
    q = event.quote
    currency, total_minor = _money(q.total)
    status = _word(quotes_pb2.QuoteStatus, q.status, "QUOTE_STATUS_")
    accepted_at = time_from_proto(q, "accept_time")
    rejected_at = time_from_proto(q, "reject_time")
    expired_at = time_from_proto(q, "expire_time")
    decided_at = {"accepted": accepted_at, "rejected": rejected_at, "expired": expired_at}.get(status)
    return _base(q, event, deleted=deleted) | {
        "number": q.number,
        "owner_id": q.owner_id,
        "deal_id": q.deal_id,
        "client_id": q.client_id,
        "status": status,
        "currency_code": q.currency_code or currency,
        "total_minor": total_minor,
        "valid_until": date_from_proto(q, "valid_until"),
        "created_at": time_from_proto(q, "create_time"),
        "sent_at": time_from_proto(q, "send_time"),
        "accepted_at": accepted_at,
        "rejected_at": rejected_at,
        "expired_at": expired_at,
        "decided_at": decided_at,
    }


# ---- campaigns ----------------------------------------------------------------------------------


def campaign_row(event: Any, deleted: bool = False) -> Row:
    c = event.campaign
    budget_currency, budget_minor = _money(c.budget)
    cost_currency, cost_minor = _money(c.cost)
    return _base(c, event, deleted=deleted) | {
        "name": c.name,
        "type": _word(campaigns_pb2.CampaignType, c.type, "CAMPAIGN_TYPE_"),
        "status": _word(campaigns_pb2.CampaignStatus, c.status, "CAMPAIGN_STATUS_"),
        "owner_id": c.owner_id,
        "start_date": date_from_proto(c, "start_date"),
        "end_date": date_from_proto(c, "end_date"),
        "currency_code": budget_currency or cost_currency,
        "budget_minor": budget_minor,
        "cost_minor": cost_minor,
        "member_count": getattr(event, "member_count", 0),
        "launched_at": time_from_proto(c, "launch_time"),
        "completed_at": time_from_proto(c, "complete_time"),
        "created_at": time_from_proto(c, "create_time"),
    }


def project_spends(session: Session, events: Sequence[Any]) -> None:
    """SpendRecorded: the campaign's total cost, which only grows (see the module's docstring)."""
    newest: dict[str, Row] = {}
    for e in events:
        currency, minor = _money(e.campaign_cost)
        row = {
            "id": e.spend.campaign_id,
            "version": 0,
            "deleted": False,
            "event_time": _event_time(e),
            "currency_code": currency,
            "cost_minor": minor,
        }
        known = newest.get(row["id"])
        if known is None or minor > known["cost_minor"]:
            newest[row["id"]] = row
    if not newest:
        return
    insert = _dialect_insert(session)(t.rm_campaigns)
    stmt = insert.on_conflict_do_update(
        index_elements=[t.rm_campaigns.c.id],
        set_={"cost_minor": _greater(t.rm_campaigns.c.cost_minor, insert.excluded.cost_minor)},
    )
    session.execute(stmt, list(newest.values()))


def project_leads(session: Session, events: Sequence[Any]) -> None:
    """LeadCaptured: one row per prospect (a redelivery or a second capture changes nothing)."""
    rows = {
        e.prospect_id: {
            "prospect_id": e.prospect_id,
            "campaign_id": e.campaign_id,
            "owner_id": e.owner_id,
            "captured_at": _event_time(e),
        }
        for e in events
        if e.prospect_id
    }
    if rows:
        stmt = _dialect_insert(session)(t.rm_campaign_leads).on_conflict_do_nothing(
            index_elements=[t.rm_campaign_leads.c.prospect_id]
        )
        session.execute(stmt, list(rows.values()))


def rows_projector(
    table: sa.Table, to_row: Callable[..., Row], *, deleted: bool = False
) -> Callable[[Session, Sequence[Any]], None]:
    """A batch projector of events that carry a whole record."""

    def project(session: Session, events: Sequence[Any]) -> None:
        upsert(session, table, (to_row(e, deleted) for e in events), tombstone=deleted)

    return project


def id_tombstones(table: sa.Table, id_field: str) -> Callable[[Session, Sequence[Any]], None]:
    """A batch projector of deletion events that carry only the record's id."""

    def project(session: Session, events: Sequence[Any]) -> None:
        upsert(session, table, (_id_tombstone(getattr(e, id_field), e) for e in events), tombstone=True)

    return project
