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
