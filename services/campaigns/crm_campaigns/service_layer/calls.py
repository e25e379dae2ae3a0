"""Telemarketing: a call to a member, logged as a done call activity of the campaign in the deals
service, its outcome on the member, and the follow-up the rep chose (a prospect in the contacts
service, or a deal in the deals service with the campaign as its source). The remote records are
created first, each with a request id derived from the call's, so a retry of the same call creates
nothing twice anywhere; then the member changes in one transaction with member_status_changed and
the remembered answer."""

from __future__ import annotations

from typing import Any

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm_campaigns.adapters import repository as repo
from crm_campaigns.adapters.contacts_directory import NewProspect
from crm_campaigns.adapters.deals_client import CallActivity, NewDeal
from crm_campaigns.domain.campaigns import CampaignStatus, CampaignType
from crm_campaigns.domain.leads import Lead, LeadSource
from crm_campaigns.domain.members import CallOutcome, MemberStatus, after_call
from crm_campaigns.entrypoints import convert
from crm_campaigns.service_layer.campaigns import Campaigns, member_changed, read_campaign
from crm_platform.context import current_actor
from crm_platform.db import UnitOfWork
from crm_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from crm_platform.idempotency import remembered, run_once
from crm_platform.ids import is_valid_id, new_id
from crm_platform.money import parse_amount, parse_currency, round_amount
from crm_platform.protoconv import time_from_proto
from crm_platform.versioning import check_version

OUTCOME_TEXT = {
    CallOutcome.NO_ANSWER: "No contestó / No answer",
    CallOutcome.CALL_BACK: "Volver a llamar / Call back",
    CallOutcome.NOT_INTERESTED: "No interesado / Not interested",
    CallOutcome.INTERESTED: "Interesado / Interested",
    CallOutcome.MEETING_SET: "Reunión agendada / Meeting set",
}


def record_call(w: Campaigns, request: pb.RecordCallOutcomeRequest) -> pb.RecordCallOutcomeResponse:
    if request.request_id:
        with w.db.read() as session:
            earlier = remembered(session, "RecordCallOutcome", request.request_id, pb.RecordCallOutcomeResponse)
        if earlier is not None:
            return earlier
    outcome = convert.OUTCOMES.from_proto(request.outcome, "outcome")
    if outcome is None:
        raise InvalidArgument.field("outcome", "is required")
    call_back = time_from_proto(request, "call_back_time")
    if outcome is CallOutcome.CALL_BACK and call_back is None:
        raise InvalidArgument.field("call_back_time", "is required when the member asked to be called back")
    if len(request.notes) > 5000:
        raise InvalidArgument.field("notes", "at most 5000 characters")
    if not request.member_id:
        raise InvalidArgument.field("member_id", "is required")
    follow_up = request.follow_up
    if follow_up and outcome not in (CallOutcome.INTERESTED, CallOutcome.MEETING_SET):
        raise InvalidArgument.field("follow_up", "only an interested member (or a meeting set) gets a follow-up")
    with w.db.read() as session:
        member = repo.get_member(session, request.member_id) if is_valid_id(request.member_id) else None
        if (
            member is None
            or (request.campaign_id and member.campaign_id != request.campaign_id)
            or (request.assigned_rep_id and member.assigned_rep_id != request.assigned_rep_id)
        ):
            raise NotFound(f"member '{request.member_id}' not found", reason="member_not_found")
        c = read_campaign(session, member.campaign_id)
    if c.type is not CampaignType.TELEMARKETING:
        raise FailedPrecondition(f"campaign '{c.id}' is not a telemarketing campaign", reason="not_telemarketing")
    if c.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
        raise FailedPrecondition(
            f"campaign '{c.id}' is {c.status.value}: calls are logged while it runs", reason="campaign_not_running"
        )
    if member.status == MemberStatus.SKIPPED.value:
        # Skipped at launch (no phone on a call list): nobody was to call them, so no outcome,
        # and no prospect or deal, may be logged against them.
        raise FailedPrecondition(
            f"member '{member.id}' was skipped at launch (unreachable on the campaign's channel): "
            "no call outcome is recorded for them",
            reason="member_skipped",
        )
    check_version("member", member.id, member.version, request.expected_version)
    amount = None
    currency = c.currency_code
    if request.HasField("deal_amount"):
        currency = parse_currency(request.deal_amount.currency_code or c.currency_code, "deal_amount.currency_code")
        amount = round_amount(parse_amount(request.deal_amount.amount, "deal_amount.amount"), currency)
        if amount < 0:
            raise InvalidArgument.field("deal_amount.amount", "must not be negative")
    base = request.request_id or new_id()
    rep = member.assigned_rep_id or current_actor() or c.owner_id
    now = w.clock()
    prospect_id = deal_id = ""
    if follow_up == pb.CALL_FOLLOW_UP_CREATE_PROSPECT:
        if member.prospect_id:
            raise FailedPrecondition("follow_up: the member is a prospect already", reason="already_a_prospect")
        lead = Lead(
            company_name=member.client_name,
            first_name=member.first_name,
            last_name=member.last_name,
            email=member.email,
            phone=member.phone,
            source=LeadSource.MANUAL,
        )
        prospect_id = w.directory.create_prospect(NewProspect(lead, rep, c.id, f"{base}:prospect"))
    elif follow_up == pb.CALL_FOLLOW_UP_CREATE_DEAL:
        client_id = member.client_id or member.parent_client_id
        if not client_id:
            raise FailedPrecondition(
                "follow_up: a deal needs a client; convert the prospect (or create a prospect instead)",
                reason="no_client_for_deal",
            )
        title = request.deal_title.strip() or f"{c.name} — {member.display_name}"[:200]
        deal_id = w.deals.open_deal(
            NewDeal(title, client_id, (member.contact_id,) if member.contact_id else (), rep, c.id, amount, currency),
            f"{base}:deal",
        )
    elif follow_up:
        raise InvalidArgument.field("follow_up", f"unknown follow-up {follow_up}")
    activity_id = w.deals.log_call(
        CallActivity(
            campaign_id=c.id,
            owner_id=rep,
            subject=f"Llamada: {c.name}"[:200],
            outcome=OUTCOME_TEXT[outcome],
            notes=request.notes,
            done_time=now,
            client_id=member.client_id or member.parent_client_id,
            contact_id=member.contact_id,
            prospect_id=member.prospect_id or prospect_id,
            deal_id=deal_id,
        ),
        f"{base}:call",
    )

    def change(uow: UnitOfWork) -> pb.RecordCallOutcomeResponse:
        row = repo.get_member(uow.session, member.id, for_update=True)
        check_version("member", row.id, row.version, request.expected_version)
        status = after_call(MemberStatus(row.status), bool(prospect_id or deal_id))
        values: dict[str, Any] = {  # column values of the member row
            "call_count": row.call_count + 1,
            "last_call_outcome": outcome.value,
            "last_call_time": now,
            "call_back_time": call_back if outcome is CallOutcome.CALL_BACK else None,
        }
        if prospect_id:
            values["created_prospect_id"] = prospect_id
        if deal_id:
            values["created_deal_id"] = deal_id
        if status.value != row.status:
            values.update(status=status.value, status_time=now)
        repo.update_member(uow.session, row.id, **values)
        message = member_changed(uow, row.id, row.status, c.type)
        return pb.RecordCallOutcomeResponse(
            member=message, activity_id=activity_id, prospect_id=prospect_id, deal_id=deal_id
        )

    return run_once(w.db, "RecordCallOutcome", request.request_id, pb.RecordCallOutcomeResponse, change)
