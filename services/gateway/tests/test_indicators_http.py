"""Indicators through the gateway: each role's reach (404 for a user or team beyond it, as for an
unknown team; 403 for the company without the admin role; 400 for a bad period), and a deal won
through the API reaching the rep's indicators."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _get(stack: Stack, who: str, **query: str) -> Any:
    query.setdefault("period", "quarter")
    query.setdefault("start", "2026-01-01")
    return stack.http.get("/api/v1/indicators", query_string=query, headers=stack.auth(who))


def test_the_reach_of_each_role(stack: Stack) -> None:
    team = stack.users["team"]["id"]
    ana, carla = stack.id("ana"), stack.id("carla")
    cases = [
        ("ana", {}, 200),
        ("ana", {"id": ana}, 200),
        ("ana", {"id": stack.id("beto")}, 404),
        ("ana", {"scope": "team", "id": team}, 404),
        ("ana", {"scope": "company"}, 403),
        ("marta", {"id": ana}, 200),
        ("marta", {"id": carla}, 404),
        ("marta", {"scope": "team", "id": team}, 200),
        ("marta", {"scope": "company"}, 403),
        ("carla", {"scope": "team", "id": team}, 404),
        ("admin", {"scope": "company"}, 200),
        ("admin", {"id": carla}, 200),
        ("admin", {"scope": "team", "id": UNKNOWN}, 404),
        ("admin", {"scope": "team"}, 400),
        ("admin", {"scope": "company", "start": "2026-02-01"}, 400),
        ("admin", {"scope": "company", "period": "week"}, 400),
    ]
    for who, query, status in cases:
        res = _get(stack, who, **query)
        assert res.status_code == status, (who, query, res.get_json())
    body = _get(stack, "ana").get_json()
    assert body["scope"] == "user" and body["scope_id"] == ana
    assert body["period_start"] == "2026-01-01" and body["period_end"] == "2026-03-31"
    bad = _get(stack, "admin", scope="company", start="2026-02-01").get_json()
    assert "period_start" in bad["detail"]


def test_a_won_deal_reaches_the_reps_indicators(stack: Stack) -> None:
    client = stack.http.post(
        "/api/v1/clients", json={"name": "Indicadores S.A.", "force_duplicate": True}, headers=stack.auth("beto")
    ).get_json()["id"]
    deal = stack.http.post(
        "/api/v1/deals",
        json={"title": "Licencias", "client_id": client, "amount": {"amount": "1234.50", "currency_code": "USD"}},
        headers=stack.auth("beto"),
    ).get_json()
    won = stack.http.post(f"/api/v1/deals/{deal['id']}:win", json={}, headers=stack.auth("beto"))
    assert won.status_code == 200, won.get_json()
    today = datetime.now(ZoneInfo("America/Bogota")).date()
    start = today.replace(day=1).isoformat()
    deadline = time.monotonic() + 30
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _get(stack, "marta", id=stack.id("beto"), period="month", start=start).get_json()
        if body["win_rate"]:
            break
        time.sleep(0.1)
    assert body["win_rate"] == "1.0000"
    assert body["budget_attainments"] == [
        {
            "target": {"amount": "0.00", "currency_code": "USD"},
            "achieved": {"amount": "1234.50", "currency_code": "USD"},
            "attainment": "",
        }
    ]
    assert body["average_deal_sizes"] == [{"amount": "1234.50", "currency_code": "USD"}]
    assert body["data_time"]


def _attainments(stack: Stack, who: str, **query: str) -> Any:
    query.setdefault("period", "quarter")
    query.setdefault("start", "2026-01-01")
    return stack.http.get("/api/v1/indicators/attainments", query_string=query, headers=stack.auth(who))


def test_the_reach_of_each_role_over_attainments(stack: Stack) -> None:
    team = stack.users["team"]["id"]
    ana, carla = stack.id("ana"), stack.id("carla")
    cases = [
        ("ana", {}, 200),
        ("ana", {"id": stack.id("beto")}, 404),
        ("ana", {"scope": "team", "id": team, "breakdown": "users"}, 404),
        ("ana", {"scope": "company", "breakdown": "teams"}, 403),
        ("ana", {"breakdown": "users"}, 400),
        ("marta", {"scope": "team", "id": team, "breakdown": "users"}, 200),
        ("marta", {"scope": "team", "id": team, "breakdown": "teams"}, 400),
        ("marta", {"id": carla}, 404),
        ("marta", {"scope": "company", "breakdown": "users"}, 403),
        ("carla", {"scope": "team", "id": team, "breakdown": "users"}, 404),
        ("admin", {"scope": "company", "breakdown": "teams", "count": "4"}, 200),
        ("admin", {"scope": "company", "breakdown": "users"}, 200),
        ("admin", {"scope": "team", "id": UNKNOWN, "breakdown": "users"}, 404),
        ("admin", {"scope": "company", "count": "25"}, 400),
        ("admin", {"scope": "company", "breakdown": "everyone"}, 400),
    ]
    for who, query, status in cases:
        res = _attainments(stack, who, **query)
        assert res.status_code == status, (who, query, res.get_json())
    mine = _attainments(stack, "ana").get_json()["attainments"]
    assert [(a["scope"], a["scope_id"], a["period_start"], a["period_end"]) for a in mine] == [
        ("user", ana, "2026-01-01", "2026-03-31")
    ]


def test_a_team_breakdown_equals_the_indicators_of_each_member(stack: Stack) -> None:
    team = stack.users["team"]["id"]
    ana = stack.id("ana")
    body = {"user_id": ana, "period_kind": "month", "period_start": "2026-01-01"}
    created = stack.http.post(
        "/api/v1/budgets",
        json=body | {"target": {"amount": "800.00", "currency_code": "USD"}},
        headers=stack.auth("marta"),
    )
    assert created.status_code == 201, created.get_json()
    found = _attainments(stack, "marta", scope="team", id=team, breakdown="users", period="month", count="12")
    assert found.status_code == 200, found.get_json()
    items = found.get_json()["attainments"]
    members = sorted(
        u["id"]
        for u in stack.http.get(
            "/api/v1/users", query_string={"team_id": team}, headers=stack.auth("admin")
        ).get_json()["items"]
    )
    # Month by month: the team, then its members by id; each as GET /api/v1/indicators says.
    assert len(items) == 12 * (1 + len(members))
    assert [a["scope_id"] for a in items[: 1 + len(members)]] == [team, *members]
    assert [a["period_start"] for a in items[:: 1 + len(members)]] == [f"2026-{m:02d}-01" for m in range(1, 13)]
    for a in items:
        alone = _get(stack, "marta", scope=a["scope"], id=a["scope_id"], period="month", start=a["period_start"])
        assert a["budget_attainments"] == alone.get_json()["budget_attainments"], a
    january = next(a for a in items if a["scope_id"] == ana and a["period_start"] == "2026-01-01")
    assert january["budget_attainments"] == [
        {
            "target": {"amount": "800.00", "currency_code": "USD"},
            "achieved": {"amount": "0.00", "currency_code": "USD"},
            "attainment": "0.0000",
        }
    ]
