"""Translation between the campaigns contract's messages and the domain (campaigns, leads) or
stored rows (members, spend)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.common.v1 import types_pb2
from crm_campaigns.domain.campaigns import (
    Campaign,
    CampaignStatus,
    CampaignType,
    MailingContent,
    MailProvider,
    Segment,
    TargetKind,
)
from crm_campaigns.domain.leads import Lead, LeadSource
from crm_campaigns.domain.members import CallOutcome, MailEvent, MemberStatus
from crm_platform.db import utc
from crm_platform.errors import InvalidArgument
from crm_platform.money import parse_amount
from crm_platform.protoconv import EnumMap, date_from_proto, date_to_proto, timestamp

TYPES = EnumMap(
    "campaign type",
    {
        CampaignType.MAILING: pb.CAMPAIGN_TYPE_MAILING,
        CampaignType.TELEMARKETING: pb.CAMPAIGN_TYPE_TELEMARKETING,
        CampaignType.SOCIAL_ADS: pb.CAMPAIGN_TYPE_SOCIAL_ADS,
        CampaignType.TRADE_FAIR: pb.CAMPAIGN_TYPE_TRADE_FAIR,
    },
)
STATUSES = EnumMap("campaign status", {s: pb.CampaignStatus.Value(f"CAMPAIGN_STATUS_{s.name}") for s in CampaignStatus})
KINDS = EnumMap("target kind", {k: pb.TargetKind.Value(f"TARGET_KIND_{k.name}") for k in TargetKind})
PROVIDERS = EnumMap("mail provider", {p: pb.MailProvider.Value(f"MAIL_PROVIDER_{p.name}") for p in MailProvider})
MEMBER_STATUSES = EnumMap("member status", {s: pb.MemberStatus.Value(f"MEMBER_STATUS_{s.name}") for s in MemberStatus})
OUTCOMES = EnumMap("call outcome", {o: pb.CallOutcome.Value(f"CALL_OUTCOME_{o.name}") for o in CallOutcome})
MAIL_EVENTS = EnumMap("mail event kind", {e: pb.MailEventKind.Value(f"MAIL_EVENT_KIND_{e.name}") for e in MailEvent})
LEAD_SOURCES = EnumMap("lead source", {s: pb.LeadSource.Value(f"LEAD_SOURCE_{s.name}") for s in LeadSource})


def money(amount: Decimal, currency: str) -> types_pb2.Money:
    return types_pb2.Money(amount=format(amount, "f"), currency_code=currency)


def segment_from_proto(t: pb.TargetSegment) -> Segment:
    return Segment(
        kind=KINDS.from_proto(t.kind, "campaign.target.kind"),
        segment_tags=tuple(t.segment_tags),
        industries=tuple(t.industries),
        cities=tuple(t.cities),
        country_codes=tuple(t.country_codes),
        owner_ids=tuple(t.owner_ids),
        prospect_statuses=tuple(t.prospect_statuses),
        prospect_sources=tuple(t.prospect_sources),
    )


def campaign_from_proto(c: pb.Campaign, default_currency: str) -> Campaign:
    """A draft from the request (validation comes after; an unknown enum is named here)."""
    ctype = TYPES.from_proto(c.type, "campaign.type")
    if ctype is None:
        raise InvalidArgument.field("campaign.type", "is required")
    currency = c.budget.currency_code.strip().upper() if c.HasField("budget") else default_currency
    amount = parse_amount(c.budget.amount or "0", "campaign.budget.amount") if c.HasField("budget") else Decimal(0)
    mailing = None
    if c.HasField("mailing"):
        m = c.mailing
        mailing = MailingContent(
            subject=m.subject,
            html_body=m.html_body,
            text_body=m.text_body,
            provider=PROVIDERS.from_proto(m.provider, "campaign.mailing.provider"),
            from_name=m.from_name.strip(),
            from_email=m.from_email.strip(),
            reply_to_email=m.reply_to_email.strip(),
        )
    return Campaign(
        id=c.id,
        name=c.name,
        type=ctype,
        owner_id=c.owner_id,
        budget_amount=amount,
        currency_code=currency,
        start_date=date_from_proto(c, "start_date", "campaign.start_date"),
        end_date=date_from_proto(c, "end_date", "campaign.end_date"),
        description=c.description,
        target=segment_from_proto(c.target),
        mailing=mailing,
        external_id=c.external_id.strip(),
    )


def campaign_to_proto(c: Campaign) -> pb.Campaign:
    s = c.target
    out = pb.Campaign(
        id=c.id,
        name=c.name,
        type=TYPES.to_proto(c.type),
        status=STATUSES.to_proto(c.status),
        start_date=date_to_proto(c.start_date),
        end_date=date_to_proto(c.end_date),
        owner_id=c.owner_id,
        budget=money(c.budget_amount, c.currency_code),
        cost=money(c.cost_amount, c.currency_code),
        description=c.description,
        target=pb.TargetSegment(
            kind=KINDS.to_proto(s.kind) if s.kind else pb.TARGET_KIND_UNSPECIFIED,
            segment_tags=s.segment_tags,
            industries=s.industries,
            cities=s.cities,
            country_codes=s.country_codes,
            owner_ids=s.owner_ids,
            prospect_statuses=s.prospect_statuses,
            prospect_sources=s.prospect_sources,
        ),
        external_id=c.external_id,
        webhook_secret=c.webhook_secret,
        launch_time=timestamp(c.launch_time),
        complete_time=timestamp(c.complete_time),
        cancel_time=timestamp(c.cancel_time),
        cancel_reason=c.cancel_reason,
        create_time=timestamp(c.created_at),
        update_time=timestamp(c.updated_at),
        version=c.version,
    )
    if c.mailing is not None:
        m = c.mailing
        out.mailing.CopyFrom(
            pb.MailingContent(
                subject=m.subject,
                html_body=m.html_body,
                text_body=m.text_body,
                provider=PROVIDERS.to_proto(m.provider) if m.provider else pb.MAIL_PROVIDER_UNSPECIFIED,
                from_name=m.from_name,
                from_email=m.from_email,
                reply_to_email=m.reply_to_email,
            )
        )
    return out


def member_to_proto(row: Any) -> pb.Member:
    outcome = row.last_call_outcome
    return pb.Member(
        id=row.id,
        campaign_id=row.campaign_id,
        client_id=row.client_id,
        contact_id=row.contact_id,
        prospect_id=row.prospect_id,
        email=row.email,
        phone=row.phone,
        display_name=row.display_name,
        status=MEMBER_STATUSES.to_proto(MemberStatus(row.status)),
        assigned_rep_id=row.assigned_rep_id,
        last_call_outcome=OUTCOMES.to_proto(CallOutcome(outcome)) if outcome else pb.CALL_OUTCOME_UNSPECIFIED,
        last_call_time=timestamp(utc(row.last_call_time)),
        call_count=row.call_count,
        call_back_time=timestamp(utc(row.call_back_time)),
        created_prospect_id=row.created_prospect_id,
        created_deal_id=row.created_deal_id,
        status_time=timestamp(utc(row.status_time)),
        version=row.version,
        send_error=row.send_error,
        send_state=row.send_state,
    )


def lead_from_proto(lead: pb.Lead, prefix: str = "lead") -> Lead:
    return Lead(
        company_name=lead.company_name,
        first_name=lead.first_name,
        last_name=lead.last_name,
        job_title=lead.job_title,
        email=lead.email,
        phone=lead.phone,
        city=lead.city,
        country_code=lead.country_code,
        notes=lead.notes,
        source=LEAD_SOURCES.from_proto(lead.source, f"{prefix}.source"),
        external_id=lead.external_id,
    )


def lead_to_proto(lead: Lead) -> pb.Lead:
    return pb.Lead(
        company_name=lead.company_name,
        first_name=lead.first_name,
        last_name=lead.last_name,
        job_title=lead.job_title,
        email=lead.email,
        phone=lead.phone,
        city=lead.city,
        country_code=lead.country_code,
        notes=lead.notes,
        source=LEAD_SOURCES.to_proto(lead.source) if lead.source else pb.LEAD_SOURCE_UNSPECIFIED,
        external_id=lead.external_id,
    )


def spend_to_proto(row: Any) -> pb.Spend:
    return pb.Spend(
        id=row["id"],
        campaign_id=row["campaign_id"],
        spend_date=date_to_proto(row["spend_date"]),
        amount=money(row["amount"], row["currency_code"]),
        description=row["description"],
        recorded_by=row["recorded_by"],
        create_time=timestamp(row["created_at"]),
    )
