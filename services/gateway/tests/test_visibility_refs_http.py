"""Campaign targets and activity references follow visibility, through the gateway against the
real services, on SQLite and on PostgreSQL (when CRM_TEST_POSTGRES_URL is set):

- a campaign's target never reaches beyond the prospects its owner may see (a rep their own, a
  manager their team's): a target naming another's prospects is a 400 naming
  campaign.target.owner_ids[i], and a launch narrows a target with no owner filter, by the
  owner's scope even when a manager launches a rep's campaign;
- an activity cannot be created on, or re-pointed at, a deal or prospect the caller may not see:
  the answer is exactly that for an unknown id, and nothing is written;
- the reps a call list is spread over and the owner of a captured lead are users the caller may
  assign records to."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Stack, stack_on_both_databases

UNKNOWN = "0192d6e0-0000-7000-8000-00000000f00d"
FUTURE = "2090-03-05T09:00:00Z"


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _created(stack: Stack, who: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    res = _post(stack, who, url, body)
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def _prospect(stack: Stack, who: str, name: str, phone: str) -> dict[str, Any]:
    email = f"{name.lower().replace(' ', '.')}@prospecto.example"
    return _created(
        stack, who, "/api/v1/prospects", {"company_name": name, "email": email, "phones": [phone], "source": "web"}
    )


def _campaigns(stack: Stack) -> int:
    res = stack.http.get("/api/v1/campaigns?page_size=500", headers=stack.auth("admin"))
    assert res.status_code == 200, res.get_json()
    return len(res.get_json()["items"])


def _launched_members(stack: Stack, launcher: str, campaign: dict[str, Any], reader: str) -> set[str]:
    url = f"/api/v1/campaigns/{campaign['id']}"
    launched = _post(stack, launcher, f"{url}:launch", {}, **{"If-Match": f'"{campaign["version"]}"'})
    assert launched.status_code == 200, launched.get_json()
    res = stack.http.get(f"{url}/members?page_size=500", headers=stack.auth(reader))
    assert res.status_code == 200, res.get_json()
    return {m["prospect_id"] for m in res.get_json()["items"]}


@pytest.fixture(scope="module")
def prospects(stack: Stack) -> dict[str, str]:
    """One prospect (with a phone, so that a call list takes it) of each of Ana, Beto, Marta, Carla."""
    phones = {"ana": "+573001110001", "beto": "+573001110002", "marta": "+573001110003", "carla": "+573001110004"}
    return {who: _prospect(stack, who, f"Prospecto {who}", phone)["id"] for who, phone in phones.items()}


# --- Finding 2: campaign targets ---------------------------------------------------------------


def test_a_rep_cannot_target_another_reps_prospects(stack: Stack, prospects: dict[str, str]) -> None:
    before = _campaigns(stack)
    res = _post(
        stack,
        "ana",
        "/api/v1/campaigns",
        {
            "name": "Llamadas a prospectos",
            "type": "telemarketing",
            "target": {"kind": "prospects", "owner_ids": [stack.id("beto")]},
        },
    )
    assert res.status_code == 400, res.get_json()
    problem = res.get_json()
    assert problem["code"] == "invalid_argument"
    assert [e["field"] for e in problem["errors"]] == ["campaign.target.owner_ids[0]"]
    assert _campaigns(stack) == before
    # A random id is refused the same way (nothing tells a user id from another string).
    unknown = _post(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "x", "type": "telemarketing", "target": {"kind": "prospects", "owner_ids": [UNKNOWN]}},
    ).get_json()
    assert unknown["errors"][0]["message"] == problem["errors"][0]["message"].replace(stack.id("beto"), UNKNOWN)
    # Clients are readable by everyone: a client target may name any owner.
    _created(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "Clientes de Beto", "type": "mailing", "target": {"kind": "clients", "owner_ids": [stack.id("beto")]}},
    )


def test_a_reps_campaign_without_owner_filter_reaches_only_their_prospects(
    stack: Stack, prospects: dict[str, str]
) -> None:
    campaign = _created(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "Todos mis prospectos", "type": "telemarketing", "target": {"kind": "prospects"}},
    )
    members = _launched_members(stack, "ana", campaign, "ana")
    assert prospects["ana"] in members
    assert not members & {prospects["beto"], prospects["marta"], prospects["carla"]}


def test_a_manager_launching_a_reps_campaign_gets_the_reps_prospects_only(
    stack: Stack, prospects: dict[str, str]
) -> None:
    campaign = _created(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "Lanzada por Marta", "type": "telemarketing", "target": {"kind": "prospects"}},
    )
    members = _launched_members(stack, "marta", campaign, "ana")
    assert prospects["ana"] in members
    assert not members & {prospects["beto"], prospects["marta"], prospects["carla"]}


def test_a_managers_campaign_reaches_the_teams_prospects(stack: Stack, prospects: dict[str, str]) -> None:
    campaign = _created(
        stack,
        "marta",
        "/api/v1/campaigns",
        {"name": "Equipo Norte", "type": "telemarketing", "target": {"kind": "prospects"}},
    )
    members = _launched_members(stack, "marta", campaign, "marta")
    assert {prospects["ana"], prospects["beto"], prospects["marta"]} <= members
    assert prospects["carla"] not in members
    # Naming Carla (outside the team) is refused for the manager too.
    res = _post(
        stack,
        "marta",
        "/api/v1/campaigns",
        {"name": "Carla", "type": "telemarketing", "target": {"kind": "prospects", "owner_ids": [stack.id("carla")]}},
    )
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "campaign.target.owner_ids[0]"


def test_handing_a_campaign_to_an_owner_who_may_not_see_its_target_is_refused(
    stack: Stack, prospects: dict[str, str]
) -> None:
    campaign = _created(
        stack,
        "marta",
        "/api/v1/campaigns",
        {"name": "De Beto", "type": "telemarketing", "target": {"kind": "prospects", "owner_ids": [stack.id("beto")]}},
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    headers = {**stack.auth("marta"), "If-Match": '"1"'}
    res = stack.http.patch(url, json={"owner_id": stack.id("ana")}, headers=headers)
    assert res.status_code == 400, res.get_json()
    assert res.get_json()["errors"][0]["field"] == "campaign.target.owner_ids[0]"
    got = stack.http.get(url, headers=stack.auth("marta")).get_json()
    assert got["owner_id"] == stack.id("marta") and got["version"] == 1
    # Narrowing the target with the hand-over is accepted.
    both = {"owner_id": stack.id("ana"), "target": {"kind": "prospects", "owner_ids": [stack.id("ana")]}}
    assert stack.http.patch(url, json=both, headers=headers).status_code == 200


def test_call_list_reps_and_lead_owners_are_within_the_callers_reach(stack: Stack) -> None:
    campaign = _created(
        stack, "ana", "/api/v1/campaigns", {"name": "Reparto", "type": "trade_fair", "target": {"kind": "prospects"}}
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    res = _post(stack, "ana", f"{url}:launch", {"rep_ids": [stack.id("carla")]}, **{"If-Match": '"1"'})
    assert res.status_code == 403 and res.get_json()["code"] == "forbidden_owner"
    lead = {"lead": {"company_name": "Visitante", "email": "visitante@feria.example"}, "owner_id": stack.id("carla")}
    res = _post(stack, "ana", f"{url}/leads", lead)
    assert res.status_code == 403 and res.get_json()["code"] == "forbidden_owner"
    got = stack.http.get(url, headers=stack.auth("ana")).get_json()
    assert got["status"] == "draft"


# --- Finding 4: activity references ------------------------------------------------------------


def _activity_answer(stack: Stack, who: str, **links: str) -> Any:
    body = {"kind": "call", "subject": "Llamar", "due_time": FUTURE, **links}
    return _post(stack, who, "/api/v1/activities", body)


def _same_as_unknown(res: Any, unknown: Any, record_id: str) -> None:
    """The answer for a record the caller may not see is the one for an unknown id (the id aside)."""
    assert res.status_code == unknown.status_code == 400, (res.get_json(), unknown.get_json())
    got = {k: v for k, v in res.get_json().items() if k not in ("request_id", "instance")}
    expected = {k: v for k, v in unknown.get_json().items() if k not in ("request_id", "instance")}
    assert str(got).replace(record_id, UNKNOWN) == str(expected)
    assert "client_id" not in str(got)


def _activities_of(stack: Stack, who: str) -> int:
    res = stack.http.get("/api/v1/activities?page_size=500", headers=stack.auth(who))
    assert res.status_code == 200
    return len(res.get_json()["items"])


def test_an_activity_on_another_reps_deal_or_prospect_answers_as_an_unknown_one(
    stack: Stack, prospects: dict[str, str]
) -> None:
    client = _created(stack, "beto", "/api/v1/clients", {"name": "Cliente de Beto"})
    deal = _created(stack, "beto", "/api/v1/deals", {"title": "Negocio de Beto", "client_id": client["id"]})
    before = _activities_of(stack, "admin")
    _same_as_unknown(
        _activity_answer(stack, "ana", deal_id=deal["id"]), _activity_answer(stack, "ana", deal_id=UNKNOWN), deal["id"]
    )
    _same_as_unknown(
        _activity_answer(stack, "ana", prospect_id=prospects["beto"]),
        _activity_answer(stack, "ana", prospect_id=UNKNOWN),
        prospects["beto"],
    )
    assert _activities_of(stack, "admin") == before
    # Their manager sees both: the same references are accepted.
    made = _activity_answer(stack, "marta", deal_id=deal["id"], prospect_id=prospects["beto"])
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["client_id"] == client["id"]


def test_re_pointing_an_activity_at_another_reps_deal_or_prospect_answers_as_an_unknown_one(
    stack: Stack, prospects: dict[str, str]
) -> None:
    client = _created(stack, "beto", "/api/v1/clients", {"name": "Otro cliente de Beto"})
    deal = _created(stack, "beto", "/api/v1/deals", {"title": "Otro negocio de Beto", "client_id": client["id"]})
    own_client = _created(stack, "ana", "/api/v1/clients", {"name": "Cliente de Ana"})
    mine = _created(
        stack,
        "ana",
        "/api/v1/activities",
        {"kind": "task", "subject": "Seguir", "due_time": FUTURE, "client_id": own_client["id"]},
    )
    url = f"/api/v1/activities/{mine['id']}"
    headers = {**stack.auth("ana"), "If-Match": f'"{mine["version"]}"'}
    for field, record_id in (("deal_id", deal["id"]), ("prospect_id", prospects["beto"])):
        hidden = stack.http.patch(url, json={field: record_id}, headers=headers)
        unknown = stack.http.patch(url, json={field: UNKNOWN}, headers=headers)
        _same_as_unknown(hidden, unknown, record_id)
    got = stack.http.get(url, headers=stack.auth("ana")).get_json()
    assert got == mine
    # Her own prospect is fine.
    ok = stack.http.patch(url, json={"prospect_id": prospects["ana"]}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["prospect_id"] == prospects["ana"]


def test_an_activity_for_a_campaign_the_caller_may_not_see_answers_as_an_unknown_one(stack: Stack) -> None:
    client = _created(stack, "ana", "/api/v1/clients", {"name": "Cliente de la campaña"})
    hers = _created(stack, "ana", "/api/v1/campaigns", {"name": "De Ana", "type": "telemarketing"})
    martas = _created(stack, "marta", "/api/v1/campaigns", {"name": "De Marta", "type": "telemarketing"})
    before = _activities_of(stack, "admin")
    _same_as_unknown(
        _activity_answer(stack, "ana", client_id=client["id"], campaign_id=martas["id"]),
        _activity_answer(stack, "ana", client_id=client["id"], campaign_id=UNKNOWN),
        martas["id"],
    )
    assert _activities_of(stack, "admin") == before
    made = _activity_answer(stack, "ana", client_id=client["id"], campaign_id=hers["id"])
    assert made.status_code == 201, made.get_json()
    url = f"/api/v1/activities/{made.get_json()['id']}"
    headers = {**stack.auth("ana"), "If-Match": '"1"'}
    _same_as_unknown(
        stack.http.patch(url, json={"campaign_id": martas["id"]}, headers=headers),
        stack.http.patch(url, json={"campaign_id": UNKNOWN}, headers=headers),
        martas["id"],
    )
    # The manager sees her team's campaigns.
    mine = _activity_answer(stack, "marta", client_id=client["id"], campaign_id=hers["id"])
    assert mine.status_code == 201, mine.get_json()
