"""GetAttainments: the budget attainment of a scope and of each of its parts over consecutive
periods in one call, equal to what GetIndicators answers for each of them one by one, on the
hand-computed data set of test_indicators_events.py (team Norte: Ana and Beto; Carla outside)."""

from __future__ import annotations

from datetime import date

import grpc
import pytest

from crm.reporting.v1 import reporting_pb2 as pb
from crm_platform.ids import new_id

from .conftest import World, pdate
from .test_indicators_events import Q1, Q2, QUARTER, DataSet, attainments, create_budgets, data_set

Figures = list[tuple[str, str, str, str]]


def get(world: World, scope: int, scope_id: str, breakdown: int, count: int = 2) -> pb.GetAttainmentsResponse:
    req = pb.GetAttainmentsRequest(
        scope=scope,
        scope_id=scope_id,
        period_kind=QUARTER,
        period_start=pdate(Q1),
        period_count=count,
        breakdown=breakdown,
    )
    response: pb.GetAttainmentsResponse = world.stub.GetAttainments(req, timeout=10)
    return response


def by_key(response: pb.GetAttainmentsResponse) -> dict[tuple[int, str, date], Figures]:
    out = {}
    for item in response.attainments:
        start = date(item.period_start.year, item.period_start.month, item.period_start.day)
        out[(item.scope, item.scope_id, start)] = attainments(item)
    return out


def one_by_one(world: World, keys: list[tuple[int, str, date]]) -> dict[tuple[int, str, date], Figures]:
    return {(s, i, d): attainments(world.indicators(s, i, QUARTER, d)) for s, i, d in keys}


@pytest.fixture
def loaded(world: World) -> DataSet:
    ds = data_set()
    world.publish(ds.events)
    world.wait_applied(len(ds.events))
    create_budgets(world, ds)
    # Norte's own CLP budget for Q2 and a Q2 budget of Carla's: the team and company rules apply.
    for owner, amount, currency in (
        (("team_id", ds.ids["norte"]), "900000", "CLP"),
        (("user_id", ds.ids["carla"]), "100.00", "USD"),
    ):
        budget = pb.Budget(
            period_kind=QUARTER, period_start=pdate(Q2), target={"amount": amount, "currency_code": currency}
        )
        setattr(budget, owner[0], owner[1])
        world.stub.CreateBudget(pb.CreateBudgetRequest(budget=budget), timeout=5)
    return ds


def test_a_team_and_each_member_over_two_quarters_equal_the_indicators_of_each(world: World, loaded: DataSet) -> None:
    ids = loaded.ids
    found = get(world, pb.INDICATOR_SCOPE_TEAM, ids["norte"], pb.ATTAINMENT_BREAKDOWN_USERS)
    team, user = pb.INDICATOR_SCOPE_TEAM, pb.INDICATOR_SCOPE_USER
    # Period by period: the team first, then its members by id.
    members = sorted([ids["ana"], ids["beto"]])
    assert list(by_key(found)) == [
        (team, ids["norte"], Q1),
        *((user, m, Q1) for m in members),
        (team, ids["norte"], Q2),
        *((user, m, Q2) for m in members),
    ]
    assert by_key(found) == one_by_one(world, list(by_key(found)))
    # The hand-computed figures (test_indicators_events.py's docstring).
    figures = by_key(found)
    assert figures[(team, ids["norte"], Q1)] == [
        ("CLP", "2000000", "1200000", "0.6000"),
        ("USD", "8000.00", "4000.50", "0.5001"),
    ]
    assert figures[(user, ids["ana"], Q1)] == [("USD", "5000.00", "4000.50", "0.8001")]
    assert figures[(team, ids["norte"], Q2)] == [("CLP", "900000", "0", "0.0000"), ("USD", "0.00", "700.00", "")]
    assert found.attainments[0].period_end == pdate(date(2026, 3, 31))
    assert found.data_time.ToDatetime().year == 2026


def test_the_company_by_team_and_by_user_equal_the_indicators_of_each(world: World, loaded: DataSet) -> None:
    ids = loaded.ids
    company = pb.INDICATOR_SCOPE_COMPANY
    by_team = by_key(get(world, company, "", pb.ATTAINMENT_BREAKDOWN_TEAMS))
    assert list(by_team) == [
        (company, "", Q1),
        (pb.INDICATOR_SCOPE_TEAM, ids["norte"], Q1),
        (company, "", Q2),
        (pb.INDICATOR_SCOPE_TEAM, ids["norte"], Q2),
    ]
    assert by_team == one_by_one(world, list(by_team))
    by_user = by_key(get(world, company, "", pb.ATTAINMENT_BREAKDOWN_USERS))
    people = {i for s, i, _d in by_user if s == pb.INDICATOR_SCOPE_USER}
    assert people == {ids["marta"], ids["ana"], ids["beto"], ids["carla"]}
    assert by_user == one_by_one(world, list(by_user))
    assert by_user[(pb.INDICATOR_SCOPE_USER, ids["carla"], Q2)] == [("USD", "100.00", "0.00", "0.0000")]
    # Without a breakdown: the scope alone, one period.
    alone = by_key(get(world, company, "", pb.ATTAINMENT_BREAKDOWN_UNSPECIFIED, count=0))
    assert list(alone) == [(company, "", Q1)]


@pytest.mark.parametrize(
    ("scope", "scope_id", "breakdown", "count", "field"),
    [
        (pb.INDICATOR_SCOPE_USER, "ana", pb.ATTAINMENT_BREAKDOWN_USERS, 1, "breakdown"),
        (pb.INDICATOR_SCOPE_TEAM, "norte", pb.ATTAINMENT_BREAKDOWN_TEAMS, 1, "breakdown"),
        (pb.INDICATOR_SCOPE_TEAM, "norte", pb.ATTAINMENT_BREAKDOWN_USERS, 25, "period_count"),
        (pb.INDICATOR_SCOPE_COMPANY, "norte", pb.ATTAINMENT_BREAKDOWN_TEAMS, 1, "scope_id"),
    ],
)
def test_bad_requests_name_the_field(
    world: World, scope: int, scope_id: str, breakdown: int, count: int, field: str
) -> None:
    ids = {"ana": new_id(), "norte": new_id()}
    with pytest.raises(grpc.RpcError) as err:
        get(world, scope, ids.get(scope_id, scope_id), breakdown, count)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (err.value.details() or "")


def test_an_unknown_team_is_not_found(world: World) -> None:
    with pytest.raises(grpc.RpcError) as err:
        get(world, pb.INDICATOR_SCOPE_TEAM, new_id(), pb.ATTAINMENT_BREAKDOWN_USERS)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
