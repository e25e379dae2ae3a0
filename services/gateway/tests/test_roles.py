"""The role matrix, through the gateway against the real services: a rep sees and changes only
their own prospects (another rep's are 404, not 403, so ids do not leak) and changes only their
own clients while seeing all; the manager sees and changes the team's; the admin everything."""

from __future__ import annotations

import pytest

from .conftest import Stack

PEOPLE = ("admin", "marta", "ana", "beto", "carla")


@pytest.fixture(scope="module")
def prospects(stack: Stack) -> dict[str, str]:
    """One prospect owned by each person, created by its owner."""
    out = {}
    for who in PEOPLE:
        res = stack.http.post(
            "/api/v1/prospects",
            json={"company_name": f"Prospecto de {who}", "email": f"p-{who}@cliente.example", "source": "web"},
            headers=stack.auth(who),
        )
        assert res.status_code == 201, res.get_json()
        assert res.get_json()["owner_id"] == stack.id(who)
        out[who] = res.get_json()["id"]
    return out


# Who may see whose prospects.
SEES = {
    "admin": set(PEOPLE),
    "marta": {"marta", "ana", "beto"},
    "ana": {"ana"},
    "beto": {"beto"},
    "carla": {"carla"},
}


@pytest.mark.parametrize("viewer", PEOPLE)
def test_who_reads_whose_prospects(stack: Stack, prospects: dict[str, str], viewer: str) -> None:
    for owner, prospect_id in prospects.items():
        res = stack.http.get(f"/api/v1/prospects/{prospect_id}", headers=stack.auth(viewer))
        if owner in SEES[viewer]:
            assert res.status_code == 200, (viewer, owner)
        else:
            assert res.status_code == 404, (viewer, owner)
            assert res.get_json()["code"] == "prospect_not_found"
    listed = stack.http.get("/api/v1/prospects?page_size=500", headers=stack.auth(viewer)).get_json()["items"]
    mine = {p["id"] for p in listed} & set(prospects.values())
    assert mine == {prospects[o] for o in SEES[viewer]}


@pytest.mark.parametrize("viewer", PEOPLE)
def test_who_changes_whose_prospects(stack: Stack, prospects: dict[str, str], viewer: str) -> None:
    for owner, prospect_id in prospects.items():
        patch = stack.http.patch(
            f"/api/v1/prospects/{prospect_id}", json={"job_title": f"por {viewer}"}, headers=stack.auth(viewer)
        )
        delete = stack.http.delete(f"/api/v1/prospects/{prospect_id}", headers=stack.auth(viewer))
        if owner in SEES[viewer]:
            assert patch.status_code == 200, (viewer, owner, patch.get_json())
            assert patch.get_json()["job_title"] == f"por {viewer}"
            # Deleting works for them too, but keep the record for the other cases: recreate it.
            assert delete.status_code == 204, (viewer, owner, delete.get_json())
            again = stack.http.post(
                "/api/v1/prospects",
                json={
                    "company_name": f"Prospecto de {owner}",
                    "email": f"p-{owner}@cliente.example",
                    "owner_id": stack.id(owner),
                },
                headers=stack.auth("admin"),
            )
            assert again.status_code == 201, again.get_json()
            prospects[owner] = again.get_json()["id"]
        else:
            assert patch.status_code == delete.status_code == 404, (viewer, owner)
            got = stack.http.get(f"/api/v1/prospects/{prospect_id}", headers=stack.auth("admin")).get_json()
            assert got["job_title"] != f"por {viewer}"


def test_a_rep_filtering_by_another_owner_gets_nothing(stack: Stack, prospects: dict[str, str]) -> None:
    res = stack.http.get(f"/api/v1/prospects?owner_id={stack.id('beto')}", headers=stack.auth("ana"))
    assert res.status_code == 200 and res.get_json()["items"] == []
    team = stack.http.get(f"/api/v1/prospects?owner_id={stack.id('beto')}", headers=stack.auth("marta"))
    assert [p["owner_id"] for p in team.get_json()["items"]] == [stack.id("beto")]


def test_owner_assignment_follows_the_roles(stack: Stack) -> None:
    body = {"company_name": "Asignado SA", "owner_id": ""}
    # A rep cannot create a record for someone else.
    body["owner_id"] = stack.id("beto")
    res = stack.http.post("/api/v1/prospects", json=body, headers=stack.auth("ana"))
    assert res.status_code == 403 and res.get_json()["code"] == "forbidden_owner"
    # The manager can, inside the team, but not outside it.
    res = stack.http.post("/api/v1/prospects", json=body, headers=stack.auth("marta"))
    assert res.status_code == 201 and res.get_json()["owner_id"] == stack.id("beto")
    body["owner_id"] = stack.id("carla")
    res = stack.http.post("/api/v1/prospects", json=body, headers=stack.auth("marta"))
    assert res.status_code == 403
    # The admin can assign to anyone active, and is told when the user does not exist.
    res = stack.http.post("/api/v1/prospects", json=body, headers=stack.auth("admin"))
    assert res.status_code == 201
    body["owner_id"] = "0192d6e0-0000-7000-8000-00000000dead"
    res = stack.http.post("/api/v1/prospects", json=body, headers=stack.auth("admin"))
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "owner_id"


def test_clients_are_seen_by_all_and_changed_by_their_owner_side(stack: Stack) -> None:
    made = stack.http.post("/api/v1/clients", json={"name": "Compartido SAS"}, headers=stack.auth("beto"))
    assert made.status_code == 201 and made.get_json()["owner_id"] == stack.id("beto")
    client_id = made.get_json()["id"]
    for who in PEOPLE:
        assert stack.http.get(f"/api/v1/clients/{client_id}", headers=stack.auth(who)).status_code == 200
    outsider = stack.http.patch(f"/api/v1/clients/{client_id}", json={"industry": "x"}, headers=stack.auth("carla"))
    teammate = stack.http.patch(f"/api/v1/clients/{client_id}", json={"industry": "x"}, headers=stack.auth("ana"))
    assert outsider.status_code == teammate.status_code == 403
    assert outsider.get_json()["code"] == "forbidden"
    for who, industry in (("beto", "Retail"), ("marta", "Agro"), ("admin", "Minería")):
        res = stack.http.patch(f"/api/v1/clients/{client_id}", json={"industry": industry}, headers=stack.auth(who))
        assert res.status_code == 200 and res.get_json()["industry"] == industry
    archived = stack.http.post(f"/api/v1/clients/{client_id}:archive", headers=stack.auth("carla"))
    assert archived.status_code == 403


def test_only_admins_manage_users_and_teams(stack: Stack) -> None:
    new_user = {"email": "nuevo@example.com", "display_name": "Nuevo", "role": "rep"}
    for who in ("marta", "ana"):
        assert stack.http.post("/api/v1/users", json=new_user, headers=stack.auth(who)).status_code == 403
        assert stack.http.post("/api/v1/teams", json={"name": "Sur"}, headers=stack.auth(who)).status_code == 403
        res = stack.http.patch(f"/api/v1/users/{stack.id('carla')}", json={"role": "admin"}, headers=stack.auth(who))
        assert res.status_code == 403
    # Everyone may read the team list, and edit their own name but not their own role.
    assert stack.http.get("/api/v1/users", headers=stack.auth("ana")).status_code == 200
    own = stack.http.patch(
        f"/api/v1/users/{stack.id('ana')}", json={"display_name": "Ana M."}, headers=stack.auth("ana")
    )
    assert own.status_code == 200 and own.get_json()["display_name"] == "Ana M."
    promote = stack.http.patch(f"/api/v1/users/{stack.id('ana')}", json={"role": "admin"}, headers=stack.auth("ana"))
    assert promote.status_code == 403
