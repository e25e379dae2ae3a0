"""Campaigns through the gateway against the real campaigns and contacts services: create, read,
update with If-Match, delete a draft; launch into members, complete and cancel; leads, spend and
results; and each role's reach (a rep their own, a manager their team's, an admin all; another's
campaign is a 404)."""

from __future__ import annotations

from typing import Any

from .conftest import Stack


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _campaign(stack: Stack, who: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Boletín de marzo")
    body.setdefault("type", "mailing")
    res = _post(stack, who, "/api/v1/campaigns", body)
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def test_create_read_update_delete(stack: Stack) -> None:
    created = {
        "name": "Feria Andina",
        "type": "trade_fair",
        "budget": {"amount": "1500.50", "currency_code": "USD"},
        "start_date": "2026-04-01",
        "target": {"kind": "clients", "cities": ["Cali"]},
    }
    res = _post(stack, "ana", "/api/v1/campaigns", created, **{"Idempotency-Key": "camp-1"})
    assert res.status_code == 201, res.get_json()
    c = res.get_json()
    assert res.headers["ETag"] == '"1"' and res.headers["Location"].endswith(f"/api/v1/campaigns/{c['id']}")
    assert c["owner_id"] == stack.id("ana") and c["status"] == "draft" and c["type"] == "trade_fair"
    assert c["budget"] == {"amount": "1500.50", "currency_code": "USD"} and c["target"]["kind"] == "clients"
    again = _post(stack, "ana", "/api/v1/campaigns", created, **{"Idempotency-Key": "camp-1"})
    assert again.get_json()["id"] == c["id"]
    other = _post(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "Feria Andina", "type": "trade_fair"},
        **{"Idempotency-Key": "camp-1"},
    )
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"

    url = f"/api/v1/campaigns/{c['id']}"
    got = stack.http.get(url, headers=stack.auth("ana"))
    assert got.status_code == 200 and got.get_json() == c
    patched = stack.http.patch(url, json={"description": "Stand 42"}, headers={**stack.auth("ana"), "If-Match": '"1"'})
    assert (
        patched.status_code == 200
        and patched.get_json()["description"] == "Stand 42"
        and patched.headers["ETag"] == '"2"'
    )
    stale = stack.http.patch(url, json={"description": "x"}, headers={**stack.auth("ana"), "If-Match": '"1"'})
    assert stale.status_code == 412
    bad = _post(
        stack,
        "ana",
        "/api/v1/campaigns",
        {"name": "x", "type": "mailing", "target": {"kind": "clients", "country_codes": ["Colombia"]}},
    )
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "campaign.target.country_codes[0]"
    assert stack.http.delete(url, headers=stack.auth("ana")).status_code == 204
    assert stack.http.get(url, headers=stack.auth("ana")).status_code == 404


def test_reach_of_each_role(stack: Stack) -> None:
    ana = _campaign(stack, "ana", name="De Ana")
    carla = _campaign(stack, "carla", name="De Carla")

    def sees(who: str, c: dict[str, Any]) -> int:
        return int(stack.http.get(f"/api/v1/campaigns/{c['id']}", headers=stack.auth(who)).status_code)

    assert (sees("ana", ana), sees("beto", ana), sees("marta", ana), sees("admin", ana)) == (200, 404, 200, 200)
    assert (sees("carla", carla), sees("marta", carla), sees("ana", carla)) == (200, 404, 404)
    names = {c["name"] for c in stack.http.get("/api/v1/campaigns", headers=stack.auth("marta")).get_json()["items"]}
    assert "De Ana" in names and "De Carla" not in names
    names = {
        c["name"]
        for c in stack.http.get("/api/v1/campaigns?type=mailing", headers=stack.auth("admin")).get_json()["items"]
    }
    assert {"De Ana", "De Carla"} <= names
    # Beto may not launch Ana's campaign (it is not even visible to him).
    assert _post(stack, "beto", f"/api/v1/campaigns/{ana['id']}:launch", {}).status_code == 404
    assert stack.http.get(f"/api/v1/campaigns/{ana['id']}/members", headers=stack.auth("beto")).status_code == 404


def test_launch_members_leads_spend_results(stack: Stack) -> None:
    for i in range(3):
        res = _post(
            stack,
            "ana",
            "/api/v1/clients",
            {
                "name": f"Tienda {i}",
                "email": f"tienda{i}@example.com",
                "segment_tags": ["feria"],
                "force_duplicate": True,
            },
        )
        assert res.status_code == 201, res.get_json()
    c = _campaign(
        stack,
        "ana",
        name="Feria Expo",
        type="trade_fair",
        budget={"amount": "300", "currency_code": "USD"},
        target={"kind": "clients", "segment_tags": ["feria"]},
    )
    url = f"/api/v1/campaigns/{c['id']}"
    launched = _post(stack, "ana", f"{url}:launch", {}, **{"If-Match": '"1"'})
    assert launched.status_code == 200, launched.get_json()
    assert launched.get_json()["member_count"] == 3 and launched.get_json()["campaign"]["status"] == "running"
    members = stack.http.get(f"{url}/members?page_size=2", headers=stack.auth("ana")).get_json()
    assert len(members["items"]) == 2 and members["next_page_token"]
    assert members["items"][0]["email"].startswith("tienda")

    lead = {
        "lead": {
            "first_name": "Luis",
            "company_name": "Mora Ltda",
            "email": "luis@mora.example",
            "source": "trade_fair",
        }
    }
    first = _post(stack, "ana", f"{url}/leads", lead)
    assert first.status_code == 200 and first.get_json()["created"] is True
    assert _post(stack, "ana", f"{url}/leads", lead).get_json()["created"] is False
    prospect = stack.http.get(
        f"/api/v1/prospects/{first.get_json()['prospect_id']}", headers=stack.auth("ana")
    ).get_json()
    assert prospect["source_campaign_id"] == c["id"] and prospect["source"] == "trade_fair"

    csv = "Nombre,Empresa,Correo\nEva,Sol SAS,eva@sol.example\nSin correo,,no-es-correo\n"
    report = stack.http.post(
        f"{url}/leads:import", data=csv.encode(), headers={**stack.auth("ana"), "Content-Type": "text/csv"}
    )
    assert report.status_code == 200, report.get_json()
    assert (report.get_json()["created"], report.get_json()["failed"]) == (1, 1)

    spend = _post(
        stack, "ana", f"{url}/spend", {"spend_date": "2026-03-02", "amount": {"amount": "150", "currency_code": "USD"}}
    )
    assert spend.status_code == 201 and spend.get_json()["campaign"]["cost"]["amount"] == "150.00"
    results = stack.http.get(f"{url}/results", headers=stack.auth("marta")).get_json()
    assert (
        results["leads"] == 2
        and results["cost"]["amount"] == "150.00"
        and results["cost_per_lead"]["amount"] == "75.00"
    )

    current = stack.http.get(url, headers=stack.auth("ana"))
    done = _post(stack, "ana", f"{url}:complete", {}, **{"If-Match": current.headers["ETag"]})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert _post(stack, "ana", f"{url}:cancel", {"reason": "tarde"}).status_code == 400
    assert stack.http.delete(url, headers=stack.auth("ana")).status_code == 400


def test_call_list_through_the_gateway(stack: Stack) -> None:
    client = _post(
        stack,
        "beto",
        "/api/v1/clients",
        {"name": "Ferretería Llamada", "segment_tags": ["llamar-gw"], "force_duplicate": True},
    ).get_json()
    contact = _post(
        stack,
        "beto",
        "/api/v1/contacts",
        {"client_id": client["id"], "first_name": "Rosa", "phones": ["+573001234567"]},
    )
    assert contact.status_code == 201, contact.get_json()
    c = _campaign(
        stack, "beto", name="Llamadas", type="telemarketing", target={"kind": "contacts", "segment_tags": ["llamar-gw"]}
    )
    url = f"/api/v1/campaigns/{c['id']}"
    assert _post(stack, "beto", f"{url}:launch", {}).get_json()["member_count"] == 1
    member = stack.http.get(f"{url}/members", headers=stack.auth("beto")).get_json()["items"][0]
    assert member["assigned_rep_id"] == stack.id("beto")
    res = _post(stack, "beto", f"{url}/members/{member['id']}:call", {"outcome": "call_back"})
    assert res.status_code == 400 and "call_back_time" in res.get_json()["detail"]
    res = _post(
        stack,
        "beto",
        f"{url}/members/{member['id']}:call",
        {"outcome": "interested", "follow_up": "create_deal"},
        **{"Idempotency-Key": "call-1"},
    )
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["member"]["status"] == "converted" and body["deal_id"] and body["activity_id"]
    deal = stack.http.get(f"/api/v1/deals/{body['deal_id']}", headers=stack.auth("beto")).get_json()
    assert deal["source_campaign_id"] == c["id"]
    again = _post(
        stack,
        "beto",
        f"{url}/members/{member['id']}:call",
        {"outcome": "interested", "follow_up": "create_deal"},
        **{"Idempotency-Key": "call-1"},
    )
    assert again.get_json()["deal_id"] == body["deal_id"]


def test_segment_preview_and_a_reps_call_list_of_a_managers_campaign(stack: Stack) -> None:
    """The preview counts what the launch then snapshots; a rep given part of a manager's call
    list reads the campaign without its webhook secret, lists only their own members, logs calls
    to them only, and finds the campaign with ?call_lists=true."""
    client = _post(stack, "marta", "/api/v1/clients", {"name": "Lista Compartida", "segment_tags": ["lista-norte"]})
    assert client.status_code == 201, client.get_json()
    for i, first in enumerate(("Uno", "Dos", "Tres", "Cuatro")):
        body = {"client_id": client.get_json()["id"], "first_name": first, "phones": [f"+57300123004{i}"]}
        assert _post(stack, "marta", "/api/v1/contacts", body).status_code == 201
    c = _campaign(
        stack,
        "marta",
        name="Llamadas del equipo",
        type="telemarketing",
        target={"kind": "contacts", "segment_tags": ["lista-norte"]},
    )
    url = f"/api/v1/campaigns/{c['id']}"
    preview = stack.http.get(f"{url}/segment-preview?sample_size=2", headers=stack.auth("marta")).get_json()
    assert (preview["member_count"], preview["skipped_count"], len(preview["sample"])) == (4, 0, 2)
    assert stack.http.get(f"{url}/segment-preview", headers=stack.auth("ana")).status_code == 404
    reps = {"rep_ids": [stack.id("ana"), stack.id("beto")]}
    launched = _post(stack, "marta", f"{url}:launch", reps, **{"If-Match": '"1"'}).get_json()
    assert launched["member_count"] == preview["member_count"]

    got = stack.http.get(url, headers=stack.auth("ana"))
    assert got.status_code == 200 and got.get_json()["webhook_secret"] == ""
    assert stack.http.get(url, headers=stack.auth("marta")).get_json()["webhook_secret"] != ""
    listed = stack.http.get("/api/v1/campaigns?call_lists=true", headers=stack.auth("ana")).get_json()["items"]
    assert [x["id"] for x in listed] == [c["id"]] and listed[0]["webhook_secret"] == ""
    mine = stack.http.get(f"{url}/members", headers=stack.auth("ana")).get_json()["items"]
    assert len(mine) == 2 and {m["assigned_rep_id"] for m in mine} == {stack.id("ana")}
    betos = stack.http.get(f"{url}/members", headers=stack.auth("beto")).get_json()["items"]
    assert len(betos) == 2 and not {m["id"] for m in betos} & {m["id"] for m in mine}
    assert _post(stack, "beto", f"{url}/members/{mine[0]['id']}:call", {"outcome": "no_answer"}).status_code == 404
    called = _post(stack, "ana", f"{url}/members/{mine[0]['id']}:call", {"outcome": "no_answer"})
    assert called.status_code == 200 and called.get_json()["member"]["call_count"] == 1
    assert stack.http.get(url, headers=stack.auth("carla")).status_code == 404
