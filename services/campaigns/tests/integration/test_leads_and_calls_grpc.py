"""Leads and telemarketing over real gRPC with the real contacts and deals services: a captured
lead becomes a prospect of the campaign (source and campaign set), a replay (same external id,
same e-mail, same request id) creates nothing more, a wrong webhook secret is refused, a bad lead
names its field and writes nothing; a batch and a trade fair's CSV file with the per-row report;
a call logged as a done call activity of the campaign in deals, a follow-up that opens a deal or
creates a prospect, a retried call that creates nothing twice, and the results by outcome."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm.contacts.v1 import contacts_pb2
from crm.deals.v1 import deals_pb2
from crm_campaigns.adapters.tables import members
from crm_platform.grpc_client import decode_error
from crm_platform.testing import wait_for_event

from .conftest import OWNER, REP_A, World, wait_until


def _prospects(w: World, campaign_id: str) -> list[contacts_pb2.Prospect]:
    res = w.people.ListProspects(
        contacts_pb2.ListProspectsRequest(source_campaign_id=campaign_id, page_size=500), timeout=5
    )
    return list(res.prospects)


def _member_rows(w: World) -> int:
    assert w.campaigns.db is not None
    with w.campaigns.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(members)) or 0)


def _error(call: Any) -> Any:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def _ads(w: World) -> pb.Campaign:
    c = w.campaign("Google Ads marzo", type=pb.CAMPAIGN_TYPE_SOCIAL_ADS)
    w.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5)
    return c


LEAD = pb.Lead(
    first_name="Marta",
    last_name="Ríos",
    company_name="Ríos & Cía",
    email="Marta@Rios.example",
    phone="+573001112233",
    city="Medellín",
    country_code="co",
    source=pb.LEAD_SOURCE_GOOGLE_ADS,
    external_id="gads-lead-1",
)


def test_a_lead_becomes_one_prospect_of_the_campaign(world: World) -> None:
    c = _ads(world)
    first = world.stub.CaptureLead(
        pb.CaptureLeadRequest(campaign_id=c.id, lead=LEAD, webhook_secret=c.webhook_secret), timeout=5
    )
    assert first.created and first.prospect_id and first.member.created_prospect_id == first.prospect_id
    prospects = _prospects(world, c.id)
    assert [p.id for p in prospects] == [first.prospect_id]
    p = prospects[0]
    assert (p.source, p.owner_id, p.email, p.address.country_code) == (
        contacts_pb2.PROSPECT_SOURCE_ADS,
        OWNER,
        "marta@rios.example",
        "CO",
    )
    wait_for_event(world.nats_url, events_pb2.LeadCaptured, lambda e: e.prospect_id == first.prospect_id)
    # A replay of the webhook, or the same person with another id: no second prospect.
    again = world.stub.CaptureLead(pb.CaptureLeadRequest(campaign_id=c.id, lead=LEAD), timeout=5)
    assert not again.created and again.prospect_id == first.prospect_id
    other_id = pb.Lead()
    other_id.CopyFrom(LEAD)
    other_id.external_id = "gads-lead-2"
    assert not world.stub.CaptureLead(pb.CaptureLeadRequest(campaign_id=c.id, lead=other_id), timeout=5).created
    assert len(_prospects(world, c.id)) == 1 and _member_rows(world) == 1
    results = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
    assert results.leads == 1


def test_refused_leads_write_nothing(world: World) -> None:
    c = _ads(world)
    info = _error(
        lambda: world.stub.CaptureLead(
            pb.CaptureLeadRequest(campaign_id=c.id, lead=LEAD, webhook_secret="nope"), timeout=5
        )
    )
    assert info.code == grpc.StatusCode.UNAUTHENTICATED
    info = _error(
        lambda: world.stub.CaptureLead(
            pb.CaptureLeadRequest(campaign_id=c.id, lead=pb.Lead(email="no-es-correo")), timeout=5
        )
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "lead.email"
    draft = world.campaign("Borrador", type=pb.CAMPAIGN_TYPE_TRADE_FAIR)
    info = _error(lambda: world.stub.CaptureLead(pb.CaptureLeadRequest(campaign_id=draft.id, lead=LEAD), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    assert _prospects(world, c.id) == [] and _member_rows(world) == 0


def test_batch_and_trade_fair_file(world: World) -> None:
    c = world.campaign("Feria Expo", type=pb.CAMPAIGN_TYPE_TRADE_FAIR)
    world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5)
    leads = [
        pb.Lead(first_name="Ana", email="ana@feria.example"),
        pb.Lead(company_name="Sin nombre SAS"),
        pb.Lead(),
        pb.Lead(first_name="Ana otra vez", email="ANA@feria.example"),
    ]
    req = pb.BatchCaptureLeadsRequest(campaign_id=c.id, leads=leads, request_id="b-1")
    res = world.stub.BatchCaptureLeads(req, timeout=10)
    assert (res.created_count, res.duplicate_count) == (2, 1)
    assert [e.index for e in res.errors] == [2]
    assert world.stub.BatchCaptureLeads(req, timeout=10) == res
    csv = (
        "Nombre,Apellido,Empresa,Correo,Teléfono,Ciudad,País,Color\n"
        "Luis,Mora,Mora Ltda,luis@mora.example,+573001234567,Cali,CO,azul\n"
        "Eva,,,eva@,,,,\n"
        "Ana,,,ana@feria.example,,,,\n"
        ",,Tienda Sol,,,Lima,PE,\n"
    ).encode()
    dry = world.stub.ImportLeads(
        pb.ImportLeadsRequest(campaign_id=c.id, content=csv, format=pb.IMPORT_FORMAT_CSV, dry_run=True), timeout=10
    )
    assert (dry.total_rows, dry.created, dry.duplicates, dry.failed) == (4, 2, 1, 1)
    assert len(_prospects(world, c.id)) == 2
    report = world.stub.ImportLeads(
        pb.ImportLeadsRequest(campaign_id=c.id, content=csv, file_name="feria.csv"), timeout=10
    )
    assert (report.total_rows, report.created, report.duplicates, report.failed) == (4, 2, 1, 1)
    problems = {(p.row, p.field) for p in report.problems}
    assert (1, "Color") in problems and (3, "email") in problems
    assert len(_prospects(world, c.id)) == 4 and len(report.created_ids) == 2


def test_calls_log_activities_and_follow_ups(world: World) -> None:
    client = world.client("Ferretería Central", segment_tags=["llamar"])
    ana = world.contact(client.id, "Ana", phones=["+573001234567"], email="ana@central.example")
    world.contact(client.id, "Beto", phones=["+573007654321"])
    c = world.campaign(
        "Llamadas Q2",
        type=pb.CAMPAIGN_TYPE_TELEMARKETING,
        budget={"amount": "100", "currency_code": "USD"},
        target={"kind": pb.TARGET_KIND_CONTACTS, "segment_tags": ["llamar"]},
    )
    world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id, rep_ids=[REP_A]), timeout=5)
    by_contact = {m.contact_id: m for m in world.members(c.id)}
    member = by_contact[ana.id]
    assert member.assigned_rep_id == REP_A

    first = world.stub.RecordCallOutcome(
        pb.RecordCallOutcomeRequest(member_id=member.id, outcome=pb.CALL_OUTCOME_NO_ANSWER, request_id="c-1"),
        timeout=10,
    )
    activity = world.deals_stub.GetActivity(deals_pb2.GetActivityRequest(id=first.activity_id), timeout=5).activity
    assert activity.kind == deals_pb2.ACTIVITY_KIND_CALL and activity.status == deals_pb2.ACTIVITY_STATUS_DONE
    assert (activity.campaign_id, activity.contact_id, activity.owner_id) == (c.id, ana.id, REP_A)
    assert first.member.status == pb.MEMBER_STATUS_CALLED and first.member.call_count == 1

    req = pb.RecordCallOutcomeRequest(
        member_id=member.id,
        outcome=pb.CALL_OUTCOME_INTERESTED,
        follow_up=pb.CALL_FOLLOW_UP_CREATE_DEAL,
        deal_amount={"amount": "250", "currency_code": "USD"},
        request_id="c-2",
    )
    second = world.stub.RecordCallOutcome(req, timeout=10)
    assert world.stub.RecordCallOutcome(req, timeout=10) == second  # a retry creates nothing twice
    deal = world.deals_stub.GetDeal(deals_pb2.GetDealRequest(id=second.deal_id), timeout=5).deal
    assert (deal.source_campaign_id, deal.client_id, list(deal.contact_ids)) == (c.id, client.id, [ana.id])
    assert deal.amount.amount.startswith("250")
    assert second.member.status == pb.MEMBER_STATUS_CONVERTED and second.member.created_deal_id == deal.id
    acts = world.deals_stub.ListActivities(deals_pb2.ListActivitiesRequest(campaign_id=c.id), timeout=5).activities
    assert len(acts) == 2

    call_back = pb.RecordCallOutcomeRequest(
        member_id=by_contact[next(k for k in by_contact if k != ana.id)].id, outcome=pb.CALL_OUTCOME_CALL_BACK
    )
    info = _error(lambda: world.stub.RecordCallOutcome(call_back, timeout=5))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "call_back_time"

    def counted() -> Any:
        r = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
        return r if r.deals_opened == 1 else None

    results = wait_until(counted, what="the deal counted from deal_created")
    assert results.calls_made == 2 and results.members_reached == 1
    assert [(o.outcome, o.count) for o in results.calls_by_outcome] == [(pb.CALL_OUTCOME_INTERESTED, 1)]


def test_a_prospect_segment_and_a_prospect_follow_up(world: World) -> None:
    def prospect(name: str, source: int, phone: str) -> contacts_pb2.Prospect:
        req = contacts_pb2.CreateProspectRequest(
            prospect=contacts_pb2.Prospect(
                company_name=name, first_name="Iván", owner_id=OWNER, phones=[phone], source=source
            ),
            force_duplicate=True,
        )
        return world.people.CreateProspect(req, timeout=5).prospect

    new = prospect("Web SAS", contacts_pb2.PROSPECT_SOURCE_WEB, "+573001234501")
    prospect("Referido SAS", contacts_pb2.PROSPECT_SOURCE_REFERRAL, "+573001234502")
    c = world.campaign(
        "Llamar prospectos",
        type=pb.CAMPAIGN_TYPE_TELEMARKETING,
        target={
            "kind": pb.TARGET_KIND_PROSPECTS,
            "prospect_statuses": ["PROSPECT_STATUS_NEW"],
            "prospect_sources": ["PROSPECT_SOURCE_WEB", "PROSPECT_SOURCE_ADS"],
        },
    )
    assert world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5).member_count == 1
    (member,) = world.members(c.id)
    assert member.prospect_id == new.id and member.display_name == "Iván" and member.phone == "+573001234501"
    info = _error(
        lambda: world.stub.RecordCallOutcome(
            pb.RecordCallOutcomeRequest(
                member_id=member.id, outcome=pb.CALL_OUTCOME_INTERESTED, follow_up=pb.CALL_FOLLOW_UP_CREATE_DEAL
            ),
            timeout=5,
        )
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    res = world.stub.RecordCallOutcome(
        pb.RecordCallOutcomeRequest(member_id=member.id, outcome=pb.CALL_OUTCOME_MEETING_SET), timeout=5
    )
    assert res.member.last_call_outcome == pb.CALL_OUTCOME_MEETING_SET and not res.prospect_id


def test_an_unreachable_contacts_service_launches_nothing(world: World) -> None:
    c = world.campaign(target={"kind": pb.TARGET_KIND_CLIENTS})
    world.contacts.stop(grace=0)
    info = _error(lambda: world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=15))
    assert info.code == grpc.StatusCode.UNAVAILABLE and info.reason == "contacts_unavailable"
    got = world.stub.GetCampaign(pb.GetCampaignRequest(id=c.id), timeout=5).campaign
    assert got.status == pb.CAMPAIGN_STATUS_DRAFT and got.version == 1 and _member_rows(world) == 0


def test_segment_preview_call_lists_by_rep_and_calls_of_another_rep(world: World) -> None:
    """The preview counts what a launch then snapshots (reachable and skipped alike) and writes
    nothing; a rep's call lists are found by member_rep_id; a call naming assigned_rep_id is
    refused for a member assigned to someone else."""
    client = world.client("Panadería Preview", segment_tags=["vista-previa"])
    world.contact(client.id, "Carla", phones=["+573001110000"])
    world.contact(client.id, "Dario")  # no phone: skipped on a call list
    c = world.campaign(
        "Llamadas vista previa",
        type=pb.CAMPAIGN_TYPE_TELEMARKETING,
        target={"kind": pb.TARGET_KIND_CONTACTS, "segment_tags": ["vista-previa"]},
    )
    before = _member_rows(world)
    preview = world.stub.PreviewSegment(pb.PreviewSegmentRequest(campaign_id=c.id, sample_size=1), timeout=5)
    assert (preview.member_count, preview.skipped_count, len(preview.sample)) == (2, 1, 1)
    assert _member_rows(world) == before
    launched = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id, rep_ids=[REP_A]), timeout=5)
    assert (launched.member_count, launched.skipped_count) == (preview.member_count, preview.skipped_count)

    mine = world.stub.ListCampaigns(pb.ListCampaignsRequest(member_rep_id=REP_A, page_size=500), timeout=5)
    assert c.id in {x.id for x in mine.campaigns}
    other = world.stub.ListCampaigns(pb.ListCampaignsRequest(member_rep_id=OWNER, page_size=500), timeout=5)
    assert c.id not in {x.id for x in other.campaigns}

    member = next(m for m in world.members(c.id) if m.assigned_rep_id == REP_A)
    wrong = pb.RecordCallOutcomeRequest(member_id=member.id, outcome=pb.CALL_OUTCOME_NO_ANSWER, assigned_rep_id=OWNER)
    assert _error(lambda: world.stub.RecordCallOutcome(wrong, timeout=5)).code == grpc.StatusCode.NOT_FOUND
    right = pb.RecordCallOutcomeRequest(member_id=member.id, outcome=pb.CALL_OUTCOME_NO_ANSWER, assigned_rep_id=REP_A)
    assert world.stub.RecordCallOutcome(right, timeout=10).member.call_count == 1
