"""Campaigns over real gRPC with the real contacts and deals services: create (events carry the
whole record), validation that names the field and writes nothing, update by mask and version,
delete of a draft only, the life cycle, the launch's snapshot of a segment (paged from the
contacts service; a second launch adds nobody; later changes to the records do not rewrite the
members), spend and the results (deals opened and won from the deals service's events)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from crm.campaigns.v1 import campaigns_pb2 as pb
from crm.campaigns.v1 import events_pb2
from crm.common.v1 import types_pb2
from crm.contacts.v1 import contacts_pb2
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deal_events
from crm_campaigns.adapters.tables import campaigns, members
from crm_platform.grpc_client import decode_error
from crm_platform.ids import new_id
from crm_platform.tables import outbox_events
from crm_platform.testing import publish_events, wait_for_event

from .conftest import OWNER, REP_A, REP_B, World, wait_until


def _rows(w: World) -> tuple[int, int, int]:
    assert w.campaigns.db is not None
    with w.campaigns.db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0) for t in (campaigns, members, outbox_events)
        )


def _error(call: Any) -> Any:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return decode_error(err.value)


def test_create_get_update_delete(world: World) -> None:
    made = world.campaign(
        "Feria Andina",
        type=pb.CAMPAIGN_TYPE_TRADE_FAIR,
        description="Stand 42",
        budget={"amount": "2500000.555", "currency_code": "USD"},
        target={"kind": pb.TARGET_KIND_CLIENTS, "cities": [" Cali", "Bogotá", "Cali"]},
    )
    assert made.status == pb.CAMPAIGN_STATUS_DRAFT and made.version == 1
    assert made.budget.amount == "2500000.56" and made.cost.amount == "0.00"
    assert list(made.target.cities) == ["Bogotá", "Cali"]
    assert len(made.webhook_secret) >= 24
    event = wait_for_event(world.nats_url, events_pb2.CampaignCreated, lambda e: e.campaign.id == made.id)
    assert event.campaign == made
    got = world.stub.GetCampaign(pb.GetCampaignRequest(id=made.id), timeout=5).campaign
    assert got == made

    changed = world.stub.UpdateCampaign(
        pb.UpdateCampaignRequest(
            campaign=pb.Campaign(id=made.id, name="Feria Andina 2026"),
            update_mask=FieldMask(paths=["name"]),
            expected_version=1,
        ),
        timeout=5,
    ).campaign
    assert changed.name == "Feria Andina 2026" and changed.version == 2 and changed.description == "Stand 42"
    stale = _error(
        lambda: world.stub.UpdateCampaign(
            pb.UpdateCampaignRequest(
                campaign=pb.Campaign(id=made.id, name="x"), update_mask=FieldMask(paths=["name"]), expected_version=1
            ),
            timeout=5,
        )
    )
    assert stale.code == grpc.StatusCode.ABORTED
    world.stub.DeleteCampaign(pb.DeleteCampaignRequest(id=made.id), timeout=5)
    assert _error(lambda: world.stub.GetCampaign(pb.GetCampaignRequest(id=made.id), timeout=5)).code == (
        grpc.StatusCode.NOT_FOUND
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": " "}, "campaign.name"),
        ({"budget": {"amount": "-1", "currency_code": "COP"}}, "campaign.budget.amount"),
        ({"budget": {"amount": "1", "currency_code": "ZZZ"}}, "campaign.budget.currency_code"),
        (
            {"target": {"kind": pb.TARGET_KIND_CLIENTS, "country_codes": ["Colombia"]}},
            "campaign.target.country_codes[0]",
        ),
        (
            {"target": {"kind": pb.TARGET_KIND_CLIENTS, "prospect_statuses": ["PROSPECT_STATUS_NEW"]}},
            "campaign.target.prospect_statuses",
        ),
        ({"mailing": {"subject": "Hola {{ nombre }}"}}, "campaign.mailing.subject"),
        (
            {"start_date": {"year": 2026, "month": 5, "day": 2}, "end_date": {"year": 2026, "month": 5, "day": 1}},
            "campaign.end_date",
        ),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(world: World, fields: dict[str, Any], field: str) -> None:
    before = _rows(world)
    kw: dict[str, Any] = {"name": "Campaña", "owner_id": OWNER, "type": pb.CAMPAIGN_TYPE_MAILING, **fields}
    info = _error(lambda: world.stub.CreateCampaign(pb.CreateCampaignRequest(campaign=pb.Campaign(**kw)), timeout=5))
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in [v.field for v in info.violations], info
    assert _rows(world) == before


def test_create_is_idempotent_by_request_id(world: World) -> None:
    req = pb.CreateCampaignRequest(
        campaign=pb.Campaign(name="Una vez", owner_id=OWNER, type=pb.CAMPAIGN_TYPE_SOCIAL_ADS), request_id="r-1"
    )
    first = world.stub.CreateCampaign(req, timeout=5).campaign
    again = world.stub.CreateCampaign(req, timeout=5).campaign
    assert first == again
    assert _rows(world)[0] == 1


def test_launch_snapshots_the_segment_once(world: World) -> None:
    vip = [
        world.client(f"Cliente VIP {i}", email=f"vip{i}@example.com", segment_tags=["vip"], phones=["+573001234567"])
        for i in range(3)
    ]
    world.client("Cliente común", email="comun@example.com", segment_tags=["basico"])
    no_mail = world.client("Sin correo", segment_tags=["vip", "norte"])
    c = world.campaign(target={"kind": pb.TARGET_KIND_CLIENTS, "segment_tags": ["vip"]})
    launched = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=10)
    assert launched.campaign.status == pb.CAMPAIGN_STATUS_RUNNING
    assert (launched.member_count, launched.skipped_count) == (4, 1)
    got = {m.client_id: m for m in world.members(c.id)}
    assert set(got) == {x.id for x in vip} | {no_mail.id}
    assert got[vip[0].id].email == "vip0@example.com" and got[vip[0].id].display_name == "Cliente VIP 0"
    assert got[no_mail.id].status == pb.MEMBER_STATUS_SKIPPED
    assert got[vip[1].id].status == pb.MEMBER_STATUS_PENDING
    wait_for_event(world.nats_url, events_pb2.CampaignLaunched, lambda e: e.campaign.id == c.id and e.member_count == 4)

    # A second launch (a retry) answers as the first and adds nobody.
    again = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=10)
    assert (again.member_count, again.skipped_count) == (4, 1)
    assert len(world.members(c.id)) == 4
    # Later changes to the records do not rewrite the members.
    world.people.UpdateClient(
        contacts_pb2.UpdateClientRequest(
            client=contacts_pb2.Client(id=vip[0].id, email="otro@example.com"), update_mask=FieldMask(paths=["email"])
        ),
        timeout=5,
    )
    assert {m.email for m in world.members(c.id)} >= {"vip0@example.com"}
    # The target of a launched campaign is frozen.
    info = _error(
        lambda: world.stub.UpdateCampaign(
            pb.UpdateCampaignRequest(
                campaign=pb.Campaign(id=c.id, target={"kind": pb.TARGET_KIND_PROSPECTS}),
                update_mask=FieldMask(paths=["target"]),
            ),
            timeout=5,
        )
    )
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    # A launched campaign cannot be deleted.
    info = _error(lambda: world.stub.DeleteCampaign(pb.DeleteCampaignRequest(id=c.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION


def test_contacts_segment_with_client_filters_and_reps_in_turn(world: World) -> None:
    cali = world.client("Distribuidora Peña", industry="Retail", address={"city": "Cali", "country_code": "CO"})
    lima = world.client("Andes SAC", industry="Retail", address={"city": "Lima", "country_code": "PE"})
    for i in range(4):
        world.contact(cali.id, f"Ana{i}", email=f"ana{i}@pena.example", phones=["+573001234567"])
    world.contact(cali.id, "Sin teléfono", email="x@pena.example")
    world.contact(lima.id, "Pedro", phones=["+51912345678"])
    c = world.campaign(
        "Llamadas Cali",
        type=pb.CAMPAIGN_TYPE_TELEMARKETING,
        target={"kind": pb.TARGET_KIND_CONTACTS, "cities": ["cali"], "industries": ["Retail"]},
    )
    res = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id, rep_ids=[REP_A, REP_B]), timeout=10)
    assert (res.member_count, res.skipped_count) == (5, 1)
    got = world.members(c.id)
    reps = [m.assigned_rep_id for m in got if m.status == pb.MEMBER_STATUS_PENDING]
    assert sorted(reps) == [REP_A, REP_A, REP_B, REP_B]
    assert {m.contact_id for m in got} and all(m.contact_id and not m.client_id for m in got)
    assert len(world.members(c.id, assigned_rep_id=REP_A)) == 2


def test_life_cycle(world: World) -> None:
    c = world.campaign(type=pb.CAMPAIGN_TYPE_SOCIAL_ADS, start_date={"year": 2090, "month": 1, "day": 1})
    info = _error(lambda: world.stub.CompleteCampaign(pb.CompleteCampaignRequest(campaign_id=c.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    launched = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5).campaign
    assert launched.status == pb.CAMPAIGN_STATUS_SCHEDULED
    done = world.stub.CompleteCampaign(pb.CompleteCampaignRequest(campaign_id=c.id), timeout=5).campaign
    assert done.status == pb.CAMPAIGN_STATUS_COMPLETED and done.HasField("complete_time")
    event = wait_for_event(world.nats_url, events_pb2.CampaignCompleted, lambda e: e.campaign.id == c.id)
    assert event.results.campaign_id == c.id
    info = _error(lambda: world.stub.CancelCampaign(pb.CancelCampaignRequest(campaign_id=c.id), timeout=5))
    assert info.code == grpc.StatusCode.FAILED_PRECONDITION
    other = world.campaign(type=pb.CAMPAIGN_TYPE_SOCIAL_ADS)
    gone = world.stub.CancelCampaign(
        pb.CancelCampaignRequest(campaign_id=other.id, reason="Sin presupuesto"), timeout=5
    )
    assert gone.campaign.status == pb.CAMPAIGN_STATUS_CANCELLED and gone.campaign.cancel_reason == "Sin presupuesto"


def test_list_filters_and_pages(world: World) -> None:
    made = [world.campaign(f"Campaña {i}", type=pb.CAMPAIGN_TYPE_SOCIAL_ADS) for i in range(5)]
    world.campaign("Otra", owner_id=REP_A)
    seen: list[str] = []
    token = ""
    for _ in range(10):
        res = world.stub.ListCampaigns(
            pb.ListCampaignsRequest(page_size=2, page_token=token, owner_ids=[OWNER]), timeout=5
        )
        seen += [c.id for c in res.campaigns]
        token = res.next_page_token
        if not token:
            break
    assert seen == [c.id for c in made]
    res = world.stub.ListCampaigns(pb.ListCampaignsRequest(query="otra"), timeout=5)
    assert [c.name for c in res.campaigns] == ["Otra"]
    res = world.stub.ListCampaigns(pb.ListCampaignsRequest(type=pb.CAMPAIGN_TYPE_MAILING), timeout=5)
    assert [c.name for c in res.campaigns] == ["Otra"]
    both = world.stub.BatchGetCampaigns(pb.BatchGetCampaignsRequest(ids=[made[0].id, OWNER]), timeout=5)
    assert [c.id for c in both.campaigns] == [made[0].id] and list(both.missing_ids) == [OWNER]


def test_spend_results_and_deals_from_events(world: World) -> None:
    c = world.campaign(type=pb.CAMPAIGN_TYPE_SOCIAL_ADS, budget={"amount": "500", "currency_code": "USD"})
    world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5)
    day = {"year": 2026, "month": 3, "day": 2}
    for i, amount in enumerate(("100.004", "99.995")):
        req = pb.RecordSpendRequest(
            campaign_id=c.id, spend_date=day, amount={"amount": amount, "currency_code": "USD"}, request_id=f"s{i}"
        )
        res = world.stub.RecordSpend(req, timeout=5)
        assert world.stub.RecordSpend(req, timeout=5) == res  # a retry records nothing more
    assert res.campaign.cost.amount == "200.00"
    wait_for_event(world.nats_url, events_pb2.SpendRecorded, lambda e: e.campaign_cost.amount == "200.00")
    info = _error(
        lambda: world.stub.RecordSpend(
            pb.RecordSpendRequest(campaign_id=c.id, spend_date=day, amount={"amount": "1", "currency_code": "COP"}),
            timeout=5,
        )
    )
    assert info.code == grpc.StatusCode.INVALID_ARGUMENT and info.violations[0].field == "amount.currency_code"

    client = world.client("Comprador")
    for i, amount in enumerate(("500", "300")):
        deal = world.deals_stub.CreateDeal(
            deals_pb2.CreateDealRequest(
                deal=deals_pb2.Deal(
                    title=f"Negocio {i}",
                    client_id=client.id,
                    owner_id=OWNER,
                    source_campaign_id=c.id,
                    amount={"amount": amount, "currency_code": "USD"},
                )
            ),
            timeout=5,
        ).deal
    world.deals_stub.WinDeal(deals_pb2.WinDealRequest(deal_id=deal.id), timeout=5)

    def won() -> Any:
        r = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
        return r if r.deals_won == 1 else None

    results = wait_until(won, what="the won deal counted")
    assert results.deals_opened == 2 and results.won_amount.amount == "300.00"
    assert results.cost.amount == "200.00" and results.roi == "0.5"
    assert not results.HasField("cost_per_lead")


def test_a_scheduled_campaign_starts_on_its_day(world: World) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from crm_campaigns.adapters.contacts_directory import GrpcContactsDirectory
    from crm_campaigns.adapters.deals_client import GrpcDealsClient
    from crm_campaigns.service_layer.campaigns import Campaigns, start_due_campaigns

    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    c = world.campaign(
        type=pb.CAMPAIGN_TYPE_SOCIAL_ADS,
        start_date={"year": tomorrow.year, "month": tomorrow.month, "day": tomorrow.day},
    )
    launched = world.stub.LaunchCampaign(pb.LaunchCampaignRequest(campaign_id=c.id), timeout=5).campaign
    assert launched.status == pb.CAMPAIGN_STATUS_SCHEDULED
    assert world.campaigns.db is not None
    today = Campaigns(world.campaigns.db, GrpcContactsDirectory(), GrpcDealsClient(), world.settings)
    assert start_due_campaigns(today) == 0
    later = replace(today, clock=lambda: datetime.now(UTC) + timedelta(days=1))
    assert start_due_campaigns(later) == 1 and start_due_campaigns(later) == 0
    res = world.stub.ListCampaigns(pb.ListCampaignsRequest(status=pb.CAMPAIGN_STATUS_RUNNING), timeout=5)
    assert [x.id for x in res.campaigns] == [c.id]
    wait_for_event(
        world.nats_url,
        events_pb2.CampaignUpdated,
        lambda e: e.campaign.id == c.id and list(e.changed_fields) == ["status"],
    )


def test_late_and_repeated_deal_events_do_not_undo_the_tally(world: World) -> None:
    """The deals events a campaign counts arrive out of order and twice: a deal won (version 3)
    before its deal_created (version 1), the won event again, and a deal deleted before an older
    update of it. Only the newest version of each deal counts."""
    c = world.campaign(type=pb.CAMPAIGN_TYPE_SOCIAL_ADS, budget={"amount": "100", "currency_code": "USD"})

    def deal(deal_id: str, version: int, status: int, amount: str) -> deals_pb2.Deal:
        return deals_pb2.Deal(
            id=deal_id,
            source_campaign_id=c.id,
            status=status,  # type: ignore[arg-type]
            version=version,
            amount={"amount": amount, "currency_code": "USD"},
        )

    def meta() -> types_pb2.EventMeta:
        return types_pb2.EventMeta(event_id=new_id())

    won_id, gone_id = new_id(), new_id()
    won = deal_events.DealWon(meta=meta(), deal=deal(won_id, 3, deals_pb2.DEAL_STATUS_WON, "250"))
    publish_events(
        world.nats_url,
        [
            won,
            deal_events.DealCreated(meta=meta(), deal=deal(won_id, 1, deals_pb2.DEAL_STATUS_OPEN, "100")),
            won,  # the same event again (its id too)
            deal_events.DealDeleted(meta=meta(), deal=deal(gone_id, 2, deals_pb2.DEAL_STATUS_OPEN, "70")),
            deal_events.DealUpdated(meta=meta(), deal=deal(gone_id, 1, deals_pb2.DEAL_STATUS_OPEN, "70")),
            # A marker after them all: once it counts, the ones before it have been applied.
            deal_events.DealCreated(meta=meta(), deal=deal(new_id(), 1, deals_pb2.DEAL_STATUS_OPEN, "5")),
        ],
    )

    def settled() -> Any:
        r = world.stub.GetCampaignResults(pb.GetCampaignResultsRequest(campaign_id=c.id), timeout=5).results
        return r if r.deals_opened >= 2 else None

    results = wait_until(settled, what="the deals events applied")
    assert results.deals_opened == 2  # the won deal and the marker; the deleted one does not come back
    assert results.deals_won == 1 and results.won_amount.amount == "250.00"
