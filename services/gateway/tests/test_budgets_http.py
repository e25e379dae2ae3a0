"""Budgets through the gateway against the real reporting service: who may set and read which
budget (a manager for the users and the team they lead, a rep reads their own), the errors (bad
period start, duplicate → 409, stale If-Match → 412, a bad currency), listing and deleting."""

from __future__ import annotations

from typing import Any

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _budget(stack: Stack, who: str, **body: Any) -> Any:
    body.setdefault("period_kind", "quarter")
    body.setdefault("period_start", "2027-04-01")
    body.setdefault("target", {"amount": "25000.00", "currency_code": "USD"})
    return stack.http.post("/api/v1/budgets", json=body, headers=stack.auth(who))


def test_a_manager_sets_a_budget_that_its_rep_reads(stack: Stack) -> None:
    res = _budget(stack, "marta", user_id=stack.id("ana"))
    assert res.status_code == 201, res.get_json()
    budget = res.get_json()
    assert res.headers["ETag"] == '"1"' and res.headers["Location"].endswith(f"/api/v1/budgets/{budget['id']}")
    assert budget["user_id"] == stack.id("ana") and budget["period_kind"] == "quarter"
    assert budget["period_start"] == "2027-04-01" and budget["target"] == {"amount": "25000.00", "currency_code": "USD"}
    url = f"/api/v1/budgets/{budget['id']}"
    for who, status in (("ana", 200), ("marta", 200), ("admin", 200), ("beto", 404), ("carla", 404)):
        assert stack.http.get(url, headers=stack.auth(who)).status_code == status, who

    # A rep changes nothing, even their own; a manager changes with If-Match.
    patch = {"target": {"amount": "30000", "currency_code": "USD"}}
    assert stack.http.patch(url, json=patch, headers=stack.auth("ana")).status_code == 403
    stale = stack.http.patch(url, json=patch, headers={**stack.auth("marta"), "If-Match": '"7"'})
    assert stale.status_code == 412
    ok = stack.http.patch(url, json=patch, headers={**stack.auth("marta"), "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.get_json()["target"]["amount"] == "30000.00" and ok.headers["ETag"] == '"2"'

    dup = _budget(stack, "marta", user_id=stack.id("ana"), target={"amount": "1", "currency_code": "USD"})
    assert dup.status_code == 409, dup.get_json()
    assert stack.http.get(url, headers=stack.auth("ana")).get_json()["target"]["amount"] == "30000.00"

    assert stack.http.delete(url, headers=stack.auth("beto")).status_code == 404
    assert stack.http.delete(url, headers=stack.auth("ana")).status_code == 403
    assert stack.http.delete(url, headers=stack.auth("marta")).status_code == 204
    assert stack.http.get(url, headers=stack.auth("admin")).status_code == 404


def test_who_may_set_budgets(stack: Stack) -> None:
    assert _budget(stack, "ana", user_id=stack.id("ana")).status_code == 403
    assert _budget(stack, "marta", user_id=stack.id("carla")).status_code == 403  # not in her team
    assert _budget(stack, "marta", user_id=stack.id("marta")).status_code == 403  # not her own
    team = stack.users["team"]["id"]
    res = _budget(stack, "marta", team_id=team, period_kind="year", period_start="2027-01-01")
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["team_id"] == team and res.get_json()["user_id"] == ""
    assert _budget(stack, "carla", team_id=team, period_kind="year", period_start="2027-01-01").status_code == 403
    res = _budget(stack, "admin", user_id=stack.id("carla"), period_start="2027-07-01")
    assert res.status_code == 201
    assert _budget(stack, "admin", user_id=UNKNOWN).status_code == 400


def test_bad_budgets_name_the_field(stack: Stack) -> None:
    cases = [
        ({"period_start": "2027-05-01"}, "period_start"),
        ({"period_kind": "month", "period_start": "2027-05-02"}, "period_start"),
        ({"target": {"amount": "100", "currency_code": "ZZZ"}}, "currency_code"),
        ({"target": {"amount": "100.123", "currency_code": "USD"}}, "amount"),
        ({"period_kind": "week"}, "period_kind"),
        ({"team_id": UNKNOWN}, "user_id"),  # both a user and a team
    ]
    for extra, field in cases:
        res = _budget(stack, "admin", **{"user_id": stack.id("beto"), **extra})
        assert res.status_code == 400, (extra, res.get_json())
        body = res.get_json()
        assert res.mimetype == "application/problem+json"
        assert any(field in e["field"] for e in body.get("errors", [])) or field in body["detail"], body
    listed = stack.http.get(f"/api/v1/budgets?user_id={stack.id('beto')}", headers=stack.auth("admin")).get_json()
    assert listed["items"] == []


def test_lists_show_what_each_may_see(stack: Stack) -> None:
    made = [
        _budget(stack, "marta", user_id=stack.id(who), period_kind="month", period_start="2027-02-01").get_json()["id"]
        for who in ("ana", "beto")
    ]
    ana = stack.http.get("/api/v1/budgets?period_kind=month", headers=stack.auth("ana")).get_json()["items"]
    assert [b["id"] for b in ana] == [made[0]]
    other = stack.http.get(f"/api/v1/budgets?user_id={stack.id('beto')}", headers=stack.auth("ana")).get_json()
    assert other["items"] == []
    marta = stack.http.get(
        f"/api/v1/budgets?user_id={stack.id('beto')}&period_kind=month", headers=stack.auth("marta")
    ).get_json()["items"]
    assert [b["id"] for b in marta] == [made[1]]
    carla = stack.http.get(f"/api/v1/budgets?user_id={stack.id('ana')}", headers=stack.auth("carla")).get_json()
    assert carla["items"] == []
    admin = stack.http.get(
        "/api/v1/budgets?period_start_from=2027-02-01&period_start_to=2027-02-01", headers=stack.auth("admin")
    )
    assert sorted(b["id"] for b in admin.get_json()["items"]) == sorted(made)
