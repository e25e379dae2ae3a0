"""Indicators on a fixed data set published as the other services' events, with the expected
figures worked out by hand below (company time zone America/Bogotá, UTC-5).

People: team Norte (manager Marta) with reps Ana and Beto; Carla, a rep outside it.
Pipeline: s1 Prospección (open), s2 Propuesta (open), won, lost. Periods: Q1 2026 (asked) and Q2.

Deals (USD has 2 decimals, CLP none):
  Ana   D1 USD 1,000.00  won 2026-02-10, created 2026-01-01 (40 days), source campaign C1
        D2 USD 3,000.50  won 2026-03-31 23:30 Bogotá = 2026-04-01 04:30 UTC: still Q1 (11 days)
        D3 CLP 500,000   lost 2026-03-05
        D4 USD 2,000.00  open in s2, 50 %, expected 2026-03-20
        D5 USD 700.00    won 2026-04-01 00:30 Bogotá: Q2
        D12 USD 10,000.00 won in Q1, then deleted: counts nowhere
  Beto  D6 CLP 1,200,000 won 2026-01-15, created 2025-12-16 (30 days)
        D7 USD 400.00    lost 2026-02-01
        D8 CLP 300,000   open in s1, 10 %, expected 2026-02-28
        D9 USD 999.99    open in s1, 35 %, expected 2026-05-10 (Q2)
  Carla D10 USD 5,000.00 won 2026-02-20 (10 days)
        D11 USD 800.00   open in s2, 50 %, expected 2026-03-01
Budgets Q1: Ana USD 5,000.00; Beto USD 3,000.00 and CLP 2,000,000. Carla none.

Team Norte, Q1:
  win rate: won D1 D2 D6, lost D3 D7 → 3/5 = 0.6000
  achieved USD 4,000.50 of 8,000.00 → 0.5001 (0.500062...); CLP 1,200,000 of 2,000,000 → 0.6000
  average deal size USD 4,000.50/2 = 2,000.25; CLP 1,200,000
  sales cycle (40 + 11 + 30)/3 = 27.00 days
  pipeline now: s1 CLP 1 x 300,000; s1 USD 1 x 999.99; s2 USD 1 x 2,000.00
  forecast Q1: USD 2,000.00 x 50 % = 1,000.00; CLP 300,000 x 10 % = 30,000 (D9 is Q2)
  activities done: Ana 2 calls (a third was deleted; a meeting is Q2; one is only scheduled),
                   Beto 1 visit
  prospects created in Q1: Ana PA1 (converted), PA2, PA3; Beto PB1 (converted) → 2/4 = 0.5000
  quotes decided in Q1: Ana accepted, rejected, expired; Beto accepted → 2/4 = 0.5000
  campaigns: Ana's C1 (USD, Feb 1 - Mar 15, launched), cost 500.00 (spends to 300.00 then
             500.00), leads L1 L2 L3 captured + PA3 (captured and its source) = 4, cost per lead
             125.00, won from its deals in USD: D1 1,000.00 → ROI (1,000 - 500)/500 = 1.0000.
             Ana's C3 never launched: not listed.
Ana, Q1: win rate 2/3 = 0.6667; USD 4,000.50 of 5,000.00 → 0.8001; average 2,000.25;
  cycle (40 + 11)/2 = 25.50; no CLP won but CLP lost D3 (no CLP budget: no CLP attainment line).
Company, Q1: won D1 D2 D6 D10, lost D3 D7 → 4/6 = 0.6667; USD 9,000.50 of 8,000.00 → 1.1251;
  average USD 9,000.50/3 = 3,000.17 (3,000.1666...); cycle (40 + 11 + 30 + 10)/4 = 22.75.
Team Norte, Q2: won D5 only → 1.0000; USD 700.00 with no budget → attainment ""; forecast USD
  999.99 x 35 % = 349.9965 → 350.00.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from google.protobuf.message import Message

from crm.campaigns.v1 import campaigns_pb2
from crm.campaigns.v1 import events_pb2 as campaigns_events
from crm.contacts.v1 import contacts_pb2
from crm.contacts.v1 import events_pb2 as contacts_events
from crm.deals.v1 import deals_pb2
from crm.deals.v1 import events_pb2 as deals_events
from crm.identity.v1 import identity_pb2
from crm.quotes.v1 import events_pb2 as quotes_events
from crm.quotes.v1 import quotes_pb2
from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.ids import new_id
from crm_platform.metrics import EVENTS_CONSUMED
from crm_reporting.adapters import tables as t

from .conftest import (
    DUPLICATE_WINDOW,
    DealSpec,
    World,
    activity_event,
    at,
    campaign_event,
    lead_captured,
    meta,
    pipeline_created,
    prospect_event,
    quote_event,
    spend_recorded,
    team_created,
    user_created,
)

WON, LOST, OPEN = deals_pb2.DEAL_STATUS_WON, deals_pb2.DEAL_STATUS_LOST, deals_pb2.DEAL_STATUS_OPEN
Q1, Q2 = date(2026, 1, 1), date(2026, 4, 1)
QUARTER = pb.PERIOD_KIND_QUARTER


@dataclass
class DataSet:
    ids: dict[str, str]
    events: list[Message]
    # Events that must change nothing whatever their place (an old update of a deleted deal).
    stale: list[Message]
    budgets: list[tuple[str, str, str]]


def data_set() -> DataSet:
    names = ["marta", "ana", "beto", "carla", "norte", "pipe", "s1", "s2", "sw", "sl", "c1", "c3"]
    ids = {name: new_id() for name in names}
    ids |= {f"D{i}": new_id() for i in range(1, 13)}
    events: list[Message] = [
        team_created(ids["norte"], ids["marta"]),
        user_created(ids["marta"], role=identity_pb2.ROLE_MANAGER),
        user_created(ids["ana"], ids["norte"]),
        user_created(ids["beto"], ids["norte"]),
        user_created(ids["carla"]),
        pipeline_created(
            ids["pipe"],
            [
                (ids["s1"], "Prospección", 10, deals_pb2.STAGE_KIND_OPEN),
                (ids["s2"], "Propuesta", 50, deals_pb2.STAGE_KIND_OPEN),
                (ids["sw"], "Ganado", 100, deals_pb2.STAGE_KIND_WON),
                (ids["sl"], "Perdido", 0, deals_pb2.STAGE_KIND_LOST),
            ],
        ),
    ]
    ana, beto, carla = ids["ana"], ids["beto"], ids["carla"]

    def deal(n: str, owner: str, amount: str, cur: str, created: str, stage: str, *rest: Any, **kw: Any) -> DealSpec:
        if "closed" in kw:
            kw["closed"] = at(kw["closed"])
        return DealSpec(ids[n], owner, amount, cur, at(created), ids[stage], *rest, **kw)

    c1 = ids["c1"]
    deals = [
        deal(
            "D1",
            ana,
            "1000.00",
            "USD",
            "2026-01-01T15:00",
            "sw",
            WON,
            100,
            closed="2026-02-10T15:00",
            source_campaign_id=c1,
        ),
        deal("D2", ana, "3000.50", "USD", "2026-03-21T04:30", "sw", WON, 100, closed="2026-04-01T04:30"),
        deal("D3", ana, "500000", "CLP", "2026-01-20T15:00", "sl", LOST, 0, closed="2026-03-05T15:00"),
        deal("D4", ana, "2000.00", "USD", "2026-02-01T15:00", "s2", OPEN, 50, expected_close=date(2026, 3, 20)),
        deal("D5", ana, "700.00", "USD", "2026-03-01T15:00", "sw", WON, 100, closed="2026-04-01T05:30"),
        deal(
            "D6",
            beto,
            "1200000",
            "CLP",
            "2025-12-16T15:00",
            "sw",
            WON,
            100,
            closed="2026-01-15T15:00",
            source_campaign_id=c1,
        ),
        deal("D7", beto, "400.00", "USD", "2026-01-10T15:00", "sl", LOST, 0, closed="2026-02-01T15:00"),
        deal("D8", beto, "300000", "CLP", "2026-01-11T15:00", "s1", OPEN, 10, expected_close=date(2026, 2, 28)),
        deal("D9", beto, "999.99", "USD", "2026-01-12T15:00", "s1", OPEN, 35, expected_close=date(2026, 5, 10)),
        deal("D10", carla, "5000.00", "USD", "2026-02-10T15:00", "sw", WON, 100, closed="2026-02-20T15:00"),
        deal("D11", carla, "800.00", "USD", "2026-02-11T15:00", "s2", OPEN, 50, expected_close=date(2026, 3, 1)),
    ]
    for spec in deals:
        events += spec.events()
    # D12: won in Q1, then deleted (deal_deleted carries its last version); an old update follows.
    d12 = deal("D12", ana, "10000.00", "USD", "2026-01-03T15:00", "sw", WON, 100, closed="2026-02-03T15:00")
    d12_events = d12.events()
    deleted = deals_events.DealDeleted(meta=meta(at("2026-02-04T15:00"), "deals"), deal=d12.record(2, final=True))
    events += [*d12_events, deleted]
    stale = [deals_events.DealUpdated(meta=meta(at("2026-01-04T15:00"), "deals"), deal=d12.record(1, final=False))]

    # Activities: the deleted one was done in Q1 too.
    A, C = deals_events, deals_pb2
    done, sched = C.ACTIVITY_STATUS_DONE, C.ACTIVITY_STATUS_SCHEDULED
    gone = new_id()
    events += [
        activity_event(A.ActivityCompleted, new_id(), ana, C.ACTIVITY_KIND_CALL, done, at("2026-01-20T15:00"), 2),
        activity_event(A.ActivityCompleted, new_id(), ana, C.ACTIVITY_KIND_CALL, done, at("2026-03-31T23:00"), 2),
        activity_event(A.ActivityCompleted, new_id(), ana, C.ACTIVITY_KIND_MEETING, done, at("2026-04-02T15:00"), 2),
        activity_event(A.ActivityScheduled, new_id(), ana, C.ACTIVITY_KIND_CALL, sched, None, 1),
        activity_event(A.ActivityCompleted, gone, ana, C.ACTIVITY_KIND_CALL, done, at("2026-02-20T15:00"), 2),
        activity_event(A.ActivityDeleted, gone, ana, C.ACTIVITY_KIND_CALL, done, at("2026-02-20T15:00"), 2),
        activity_event(A.ActivityCompleted, new_id(), beto, C.ACTIVITY_KIND_VISIT, done, at("2026-02-20T15:00"), 2),
        activity_event(A.ActivityCompleted, new_id(), carla, C.ACTIVITY_KIND_EMAIL, done, at("2026-02-20T15:00"), 2),
    ]

    # Prospects.
    P, S = contacts_events, contacts_pb2
    pa1, pa3, pb1 = new_id(), new_id(), new_id()
    events += [
        prospect_event(P.ProspectCreated, pa1, ana, at("2026-01-15T15:00"), S.PROSPECT_STATUS_NEW, 1),
        prospect_event(P.ProspectConverted, pa1, ana, at("2026-01-15T15:00"), S.PROSPECT_STATUS_CONVERTED, 2),
        prospect_event(P.ProspectCreated, new_id(), ana, at("2026-02-15T15:00"), S.PROSPECT_STATUS_CONTACTED, 1),
        prospect_event(
            P.ProspectCreated, pa3, ana, at("2026-03-15T15:00"), S.PROSPECT_STATUS_NEW, 1, source_campaign_id=ids["c1"]
        ),
        prospect_event(P.ProspectConverted, new_id(), ana, at("2026-04-15T15:00"), S.PROSPECT_STATUS_CONVERTED, 2),
        prospect_event(P.ProspectConverted, pb1, beto, at("2026-02-15T15:00"), S.PROSPECT_STATUS_CONVERTED, 2),
        prospect_event(P.ProspectCreated, new_id(), carla, at("2026-02-15T15:00"), S.PROSPECT_STATUS_NEW, 1),
    ]

    # Quotes.
    Q, QS = quotes_events, quotes_pb2

    def quote(cls: Any, owner: str, status: int, when: str | None, **times: str) -> Message:
        version = 3 if when else 2
        moments = {name: at(value) for name, value in times.items()}
        return quote_event(cls, new_id(), owner, status, at(when) if when else None, version, **moments)

    events += [
        quote(Q.QuoteAccepted, ana, QS.QUOTE_STATUS_ACCEPTED, "2026-02-01T15:00", accept_time="2026-02-01T15:00"),
        quote(Q.QuoteRejected, ana, QS.QUOTE_STATUS_REJECTED, "2026-02-02T15:00", reject_time="2026-02-02T15:00"),
        quote(Q.QuoteExpired, ana, QS.QUOTE_STATUS_EXPIRED, "2026-03-02T15:00", expire_time="2026-03-02T15:00"),
        quote(Q.QuoteAccepted, ana, QS.QUOTE_STATUS_ACCEPTED, "2026-04-02T15:00", accept_time="2026-04-02T15:00"),
        quote(Q.QuoteSent, ana, QS.QUOTE_STATUS_SENT, None, send_time="2026-02-02T15:00"),
        quote(Q.QuoteAccepted, beto, QS.QUOTE_STATUS_ACCEPTED, "2026-03-03T15:00", accept_time="2026-03-03T15:00"),
    ]

    # Campaigns.
    K, KS = campaigns_events, campaigns_pb2
    c3 = ids["c3"]
    feb1, mar15 = date(2026, 2, 1), date(2026, 3, 15)
    events += [
        campaign_event(K.CampaignCreated, c1, ana, "Feria Norte", KS.CAMPAIGN_STATUS_DRAFT, 1, feb1, mar15, None),
        campaign_event(
            K.CampaignLaunched,
            c1,
            ana,
            "Feria Norte",
            KS.CAMPAIGN_STATUS_RUNNING,
            2,
            feb1,
            mar15,
            at("2026-02-01T15:00"),
        ),
        spend_recorded(c1, "300.00", "300.00", at("2026-02-05T15:00")),
        spend_recorded(c1, "200.00", "500.00", at("2026-02-06T15:00")),
        lead_captured(c1, new_id(), ana, at("2026-02-07T15:00")),
        lead_captured(c1, new_id(), ana, at("2026-02-08T15:00")),
        lead_captured(c1, new_id(), ana, at("2026-02-09T15:00")),
        lead_captured(c1, pa3, ana, at("2026-03-15T15:00")),
        campaign_event(K.CampaignCreated, c3, ana, "Borrador", KS.CAMPAIGN_STATUS_DRAFT, 1, feb1, mar15, None),
    ]
    budgets = [(ana, "5000.00", "USD"), (beto, "3000.00", "USD"), (beto, "2000000", "CLP")]
    return DataSet(ids, events, stale, budgets)


def create_budgets(world: World, ds: DataSet) -> None:
    for user_id, amount, currency in ds.budgets:
        world.stub.CreateBudget(
            pb.CreateBudgetRequest(
                budget=pb.Budget(
                    user_id=user_id,
                    period_kind=QUARTER,
                    period_start={"year": 2026, "month": 1, "day": 1},
                    target={"amount": amount, "currency_code": currency},
                )
            ),
            timeout=5,
        )


def money(m: Any) -> tuple[str, str]:
    return (m.currency_code, m.amount)


def attainments(ind: pb.Indicators) -> list[tuple[str, str, str, str]]:
    return [(a.target.currency_code, a.target.amount, a.achieved.amount, a.attainment) for a in ind.budget_attainments]


def check_q1_figures(world: World, ds: DataSet) -> None:
    ids = ds.ids
    team = world.indicators(pb.INDICATOR_SCOPE_TEAM, ids["norte"], QUARTER, Q1)
    assert (team.period_start.month, team.period_end.month, team.period_end.day) == (1, 3, 31)
    assert team.win_rate == "0.6000"
    assert attainments(team) == [("CLP", "2000000", "1200000", "0.6000"), ("USD", "8000.00", "4000.50", "0.5001")]
    assert [money(m) for m in team.average_deal_sizes] == [("CLP", "1200000"), ("USD", "2000.25")]
    assert team.average_sales_cycle_days == "27.00"
    assert [
        (s.stage_name, s.amount.currency_code, s.deal_count, s.amount.amount) for s in team.pipeline_stage_values
    ] == [
        ("Prospección", "CLP", 1, "300000"),
        ("Prospección", "USD", 1, "999.99"),
        ("Propuesta", "USD", 1, "2000.00"),
    ]
    assert {s.pipeline_id for s in team.pipeline_stage_values} == {ids["pipe"]}
    assert [money(m) for m in team.weighted_forecasts] == [("CLP", "30000"), ("USD", "1000.00")]
    assert sorted((r.user_id, r.activity_kind, r.done_count) for r in team.activities_done) == sorted(
        [(ids["ana"], "ACTIVITY_KIND_CALL", 2), (ids["beto"], "ACTIVITY_KIND_VISIT", 1)]
    )
    assert team.prospect_conversion_rate == "0.5000"
    assert team.quote_acceptance_rate == "0.5000"
    assert [(c.campaign_id, c.lead_count, money(c.cost), money(c.cost_per_lead), c.roi) for c in team.campaigns] == [
        (ids["c1"], 4, ("USD", "500.00"), ("USD", "125.00"), "1.0000")
    ]
    assert team.data_time.ToDatetime().year == 2026

    ana = world.indicators(pb.INDICATOR_SCOPE_USER, ids["ana"], QUARTER, Q1)
    assert ana.win_rate == "0.6667"
    assert attainments(ana) == [("USD", "5000.00", "4000.50", "0.8001")]
    assert [money(m) for m in ana.average_deal_sizes] == [("USD", "2000.25")]
    assert ana.average_sales_cycle_days == "25.50"
    assert [money(m) for m in ana.weighted_forecasts] == [("USD", "1000.00")]
    assert ana.prospect_conversion_rate == "0.3333"
    assert ana.quote_acceptance_rate == "0.3333"

    company = world.indicators(pb.INDICATOR_SCOPE_COMPANY, "", QUARTER, Q1)
    assert company.win_rate == "0.6667"
    assert attainments(company) == [("CLP", "2000000", "1200000", "0.6000"), ("USD", "8000.00", "9000.50", "1.1251")]
    assert [money(m) for m in company.average_deal_sizes] == [("CLP", "1200000"), ("USD", "3000.17")]
    assert company.average_sales_cycle_days == "22.75"
    assert [money(m) for m in company.weighted_forecasts] == [("CLP", "30000"), ("USD", "1400.00")]

    q2 = world.indicators(pb.INDICATOR_SCOPE_TEAM, ids["norte"], QUARTER, Q2)
    assert q2.win_rate == "1.0000"
    assert attainments(q2) == [("USD", "0.00", "700.00", "")]
    assert [money(m) for m in q2.weighted_forecasts] == [("USD", "350.00")]
    assert q2.campaigns == []


def test_indicators_match_the_hand_computed_figures(world: World) -> None:
    ds = data_set()
    world.publish([*ds.events, *ds.stale])
    world.wait_applied(len(ds.events) + len(ds.stale))
    create_budgets(world, ds)
    check_q1_figures(world, ds)


def test_a_team_budget_of_its_own_replaces_the_members_sum_in_its_currency(world: World) -> None:
    ds = data_set()
    world.publish(ds.events)
    world.wait_applied(len(ds.events))
    create_budgets(world, ds)
    world.stub.CreateBudget(
        pb.CreateBudgetRequest(
            budget=pb.Budget(
                team_id=ds.ids["norte"],
                period_kind=QUARTER,
                period_start={"year": 2026, "month": 1, "day": 1},
                target={"amount": "10000", "currency_code": "USD"},
            )
        ),
        timeout=5,
    )
    team = world.indicators(pb.INDICATOR_SCOPE_TEAM, ds.ids["norte"], QUARTER, Q1)
    # USD: the team's own 10,000.00 replaces the members' 8,000.00: 4,000.50 / 10,000.00 = 0.40005
    # → half-up 0.4001. CLP: no team budget in CLP, so still Beto's 2,000,000.
    assert attainments(team) == [("CLP", "2000000", "1200000", "0.6000"), ("USD", "10000.00", "4000.50", "0.4001")]


def test_duplicates_and_events_out_of_order_leave_the_same_figures(world: World) -> None:
    ds = data_set()
    # Out of order: the deletion of D12 first of all, its won and created events after it, the
    # rest shuffled (deal_won often before deal_created), and an old update after the delete.
    d12 = [e for e in ds.events if getattr(getattr(e, "deal", None), "id", "") == ds.ids["D12"]]
    deleted = next(e for e in d12 if isinstance(e, deals_events.DealDeleted))
    won = next(e for e in d12 if isinstance(e, deals_events.DealWon))
    created = next(e for e in d12 if isinstance(e, deals_events.DealCreated))
    rest = [e for e in ds.events if e not in (deleted, won, created)]
    random.Random(9).shuffle(rest)
    before = consumed()
    world.publish([deleted, won, created, *rest, *ds.stale])
    unique = len(ds.events) + len(ds.stale)
    world.wait_applied(unique)
    # Every event again, later than the stream's duplicate window (the same event ids in new
    # messages, as a relay retry after the window publishes them): JetStream stores the copies,
    # the consumer's processed-event table recognises them.
    published = time.monotonic()
    while time.monotonic() - published < 2 * DUPLICATE_WINDOW:  # bounded: JetStream's window, not a sync
        time.sleep(0.02)
    world.publish(list(reversed(ds.events)))
    copies = len(ds.events)
    assert world.stream_messages() == unique + copies
    world.wait_for(lambda: consumed() - before >= unique + copies)
    assert world.applied() == unique
    create_budgets(world, ds)
    check_q1_figures(world, ds)
    # D12 stays a tombstone at its last version.
    with world.db.read() as s:
        row = s.execute(t.rm_deals.select().where(t.rm_deals.c.id == ds.ids["D12"])).one()
    assert (row.deleted, row.version, row.status) == (True, 2, "won")


def consumed() -> int:
    """Messages the reporting consumers of this process handled (processed, duplicate...) so far."""
    total = 0.0
    for metric in EVENTS_CONSUMED.collect():
        for sample in metric.samples:
            if (
                sample.name.endswith("_total")
                and sample.labels.get("service") == "reporting"
                and sample.labels.get("consumer", "").startswith("reporting-")
            ):
                total += sample.value
    return int(total)


@pytest.mark.parametrize(
    ("scope", "scope_id", "kind", "start", "field"),
    [
        (pb.INDICATOR_SCOPE_TEAM, "norte", QUARTER, date(2026, 2, 1), "period_start"),
        (pb.INDICATOR_SCOPE_USER, "not-an-id", QUARTER, Q1, "scope_id"),
        (pb.INDICATOR_SCOPE_UNSPECIFIED, "", QUARTER, Q1, "scope"),
        (pb.INDICATOR_SCOPE_COMPANY, "", pb.PERIOD_KIND_UNSPECIFIED, Q1, "period_kind"),
    ],
)
def test_bad_indicator_requests_name_the_field(
    world: World, scope: int, scope_id: str, kind: int, start: date, field: str
) -> None:
    import grpc

    ids = {"norte": new_id()}
    with pytest.raises(grpc.RpcError) as err:
        world.indicators(scope, ids.get(scope_id, scope_id), kind, start)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")


def test_an_unknown_team_is_not_found(world: World) -> None:
    import grpc

    with pytest.raises(grpc.RpcError) as err:
        world.indicators(pb.INDICATOR_SCOPE_TEAM, new_id(), QUARTER, Q1)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
