"""Pipelines and deals through the gateway against the real deals and contacts services: every
operation and its errors (unknown client, lose without a reason, stale versions, a rep's reach),
the stage history through moves, wins and reopening, lists and export, and a clear 503 with
nothing written when the contacts service is down (last: it stops the module's contacts service)."""

from __future__ import annotations

import csv
import io
from typing import Any

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _client(stack: Stack, who: str, name: str) -> str:
    res = _post(stack, who, "/api/v1/clients", {"name": name, "force_duplicate": True})
    assert res.status_code == 201, res.get_json()
    return str(res.get_json()["id"])


def _deal(stack: Stack, who: str, client_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Renovación de licencias")
    res = _post(stack, who, "/api/v1/deals", {"client_id": client_id, **body})
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def _default_pipeline(stack: Stack) -> dict[str, Any]:
    items = stack.http.get("/api/v1/pipelines", headers=stack.auth("carla")).get_json()["items"]
    return next(p for p in items if p["is_default"])


def test_create_get_and_the_reach_of_each_role(stack: Stack) -> None:
    pipeline = _default_pipeline(stack)
    client = _client(stack, "ana", "Ferretería Núñez")
    contact = _post(stack, "ana", "/api/v1/contacts", {"client_id": client, "first_name": "Begoña"}).get_json()
    body = {
        "title": "Renovación de licencias",
        "client_id": client,
        "contact_ids": [contact["id"]],
        "amount": {"amount": "12500.50", "currency_code": "USD"},
        "expected_close_date": "2026-06-30",
    }
    res = _post(stack, "ana", "/api/v1/deals", body, **{"Idempotency-Key": "deal-1"})
    assert res.status_code == 201, res.get_json()
    deal = res.get_json()
    assert res.headers["ETag"] == '"1"' and res.headers["Location"].endswith(f"/api/v1/deals/{deal['id']}")
    assert deal["owner_id"] == stack.id("ana") and deal["status"] == "open"
    assert deal["pipeline_id"] == pipeline["id"] and deal["stage_id"] == pipeline["stages"][0]["id"]
    assert deal["probability"] == 10 and deal["amount"] == {"currency_code": "USD", "amount": "12500.50"}
    assert deal["expected_close_date"] == "2026-06-30" and deal["contact_ids"] == [contact["id"]]
    assert deal["stage_history"][0]["moved_by"] == stack.id("ana")
    again = _post(stack, "ana", "/api/v1/deals", body, **{"Idempotency-Key": "deal-1"})
    assert again.status_code == 201 and again.get_json()["id"] == deal["id"]
    # The key with another request is refused, not answered with the first deal.
    other = _post(
        stack, "ana", "/api/v1/deals", {"title": "otro", "client_id": client}, **{"Idempotency-Key": "deal-1"}
    )
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"

    url = f"/api/v1/deals/{deal['id']}"
    assert stack.http.get(url, headers=stack.auth("ana")).get_json() == deal
    assert stack.http.get(url, headers=stack.auth("marta")).status_code == 200  # Ana's manager
    assert stack.http.get(url, headers=stack.auth("admin")).status_code == 200
    for outsider in ("beto", "carla"):  # reps see their own deals only
        res = stack.http.get(url, headers=stack.auth(outsider))
        assert res.status_code == 404 and res.get_json()["code"] == "deal_not_found"
        assert deal["id"] not in [
            d["id"] for d in stack.http.get("/api/v1/deals", headers=stack.auth(outsider)).get_json()["items"]
        ]
    res = _post(
        stack, "carla", "/api/v1/deals", {"title": "Para Ana", "client_id": client, "owner_id": stack.id("ana")}
    )
    assert res.status_code == 403 and res.get_json()["code"] == "forbidden_owner"
    by_manager = _deal(stack, "marta", client, owner_id=stack.id("beto"))
    assert by_manager["owner_id"] == stack.id("beto")


def test_bad_input_and_unknown_records_name_the_field(stack: Stack) -> None:
    client = _client(stack, "ana", "Validaciones Ltda.")
    before = stack.http.get("/api/v1/deals?include_total_size=true", headers=stack.auth("admin")).get_json()[
        "total_size"
    ]
    res = _post(stack, "ana", "/api/v1/deals", {"title": "Sin cliente", "client_id": UNKNOWN})
    assert res.status_code == 400 and res.get_json()["code"] == "client_not_found"
    assert res.get_json()["field"] == "deal.client_id" and UNKNOWN in res.get_json()["detail"]
    for bad, field in (
        ({"title": "", "client_id": client}, "title"),
        ({"title": "x", "client_id": "nope"}, "client_id"),
        ({"title": "x", "client_id": client, "amount": {"amount": "-3", "currency_code": "USD"}}, "amount.amount"),
        (
            {"title": "x", "client_id": client, "amount": {"amount": "3", "currency_code": "QQQ"}},
            "amount.currency_code",
        ),
        ({"title": "x", "client_id": client, "probability": 101}, "probability"),
        ({"title": "x", "client_id": client, "expected_close_date": "2026-02-30"}, "expected_close_date"),
        ({"title": "x", "client_id": client, "stage": "won"}, "stage"),
    ):
        res = _post(stack, "ana", "/api/v1/deals", bad)
        assert res.status_code == 400, (bad, res.get_json())
        body = res.get_json()
        fields = [e["field"] for e in body.get("errors", [])] + [body.get("field", "")]
        assert any(field in f for f in fields), (bad, body)
    after = stack.http.get("/api/v1/deals?include_total_size=true", headers=stack.auth("admin")).get_json()[
        "total_size"
    ]
    assert after == before


def test_moves_win_lose_reopen_with_versions(stack: Stack) -> None:
    pipeline = _default_pipeline(stack)
    stages = pipeline["stages"]
    deal = _deal(stack, "ana", _client(stack, "ana", "Movimientos SAS"))
    url = f"/api/v1/deals/{deal['id']}"
    moved = _post(stack, "ana", f"{url}:move", {"stage_id": stages[2]["id"]}, **{"If-Match": '"1"'})
    assert moved.status_code == 200 and moved.headers["ETag"] == '"2"'
    assert moved.get_json()["probability"] == 50
    stale = _post(stack, "ana", f"{url}:move", {"stage_id": stages[3]["id"]}, **{"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    patched = stack.http.patch(
        url, json={"title": "Licencias (2 sedes)"}, headers={**stack.auth("ana"), "If-Match": '"1"'}
    )
    assert patched.status_code == 412
    patched = stack.http.patch(
        url, json={"title": "Licencias (2 sedes)"}, headers={**stack.auth("ana"), "If-Match": '"2"'}
    )
    assert patched.status_code == 200 and patched.get_json()["title"] == "Licencias (2 sedes)"
    read_only = stack.http.patch(url, json={"status": "won"}, headers=stack.auth("ana"))
    assert read_only.status_code == 400

    no_reason = _post(stack, "ana", f"{url}:lose", {})
    assert no_reason.status_code == 400 and no_reason.get_json()["errors"][0]["field"] == "reason"
    blank = _post(stack, "ana", f"{url}:lose", {"reason": "   "})
    assert blank.status_code == 400 and blank.get_json()["errors"][0]["field"] == "reason"
    lost = _post(stack, "ana", f"{url}:lose", {"reason": "Eligió a la competencia"})
    assert (
        lost.status_code == 200
        and lost.get_json()["status"] == "lost"
        and lost.get_json()["stage_id"] == stages[5]["id"]
    )
    won_lost = _post(stack, "ana", f"{url}:win", {})
    assert won_lost.status_code == 400 and won_lost.get_json()["code"] == "deal_lost"
    reopened = _post(stack, "ana", f"{url}:reopen", {})
    assert reopened.status_code == 200 and reopened.get_json()["stage_id"] == stages[2]["id"]
    won = _post(stack, "marta", f"{url}:win", {})
    assert won.status_code == 200 and won.get_json()["status"] == "won" and won.get_json()["won_time"]
    history = [(h["from_stage_id"], h["to_stage_id"]) for h in won.get_json()["stage_history"]]
    assert history == [
        ("", stages[0]["id"]),
        (stages[0]["id"], stages[2]["id"]),
        (stages[2]["id"], stages[5]["id"]),
        (stages[5]["id"], stages[2]["id"]),
        (stages[2]["id"], stages[4]["id"]),
    ]
    assert won.get_json()["stage_history"][-1]["moved_by"] == stack.id("marta")
    assert _post(stack, "beto", f"{url}:win", {}).status_code == 404  # not his deal
    assert [s["stage_id"] for s in won.get_json()["stage_times"]] == [stages[0]["id"], stages[2]["id"]]


def test_lists_filters_and_export(stack: Stack) -> None:
    client = _client(stack, "carla", "Listados Carla")
    made = [
        _deal(stack, "carla", client, title="Carla alfa", expected_close_date="2026-04-01"),
        _deal(stack, "carla", client, title="Carla beta", expected_close_date="2026-08-01"),
        _deal(stack, "carla", client, title="Carla gamma"),
    ]
    _post(stack, "carla", f"/api/v1/deals/{made[1]['id']}:win", {})

    def ids(query: str, who: str = "carla") -> list[str]:
        res = stack.http.get(f"/api/v1/deals?{query}", headers=stack.auth(who))
        assert res.status_code == 200, res.get_json()
        return [d["id"] for d in res.get_json()["items"]]

    assert ids(f"client_id={client}") == [d["id"] for d in made]
    assert ids(f"client_id={client}&status=won") == [made[1]["id"]]
    assert ids(f"client_id={client}&q=GAMMA") == [made[2]["id"]]
    assert ids(f"client_id={client}&expected_close_from=2026-05-01") == [made[1]["id"]]
    assert ids(f"client_id={client}&expected_close_to=2026-05-01") == [made[0]["id"]]
    assert ids(f"client_id={client}", who="ana") == []  # Ana cannot see Carla's deals
    assert ids(f"client_id={client}&owner_id={stack.id('carla')}", who="admin") == [d["id"] for d in made]
    first = stack.http.get(f"/api/v1/deals?client_id={client}&page_size=2", headers=stack.auth("carla")).get_json()
    assert len(first["items"]) == 2 and first["next_page_token"]
    bad = stack.http.get("/api/v1/deals?status=ganado", headers=stack.auth("carla"))
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "status"
    exported = stack.http.get(f"/api/v1/deals:export?client_id={client}", headers=stack.auth("carla"))
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [r["Título"] for r in rows] == ["Carla alfa", "Carla beta", "Carla gamma"]


def test_pipelines_are_read_by_all_and_changed_by_managers(stack: Stack) -> None:
    res = _post(stack, "ana", "/api/v1/pipelines", {"name": "Mío"})
    assert res.status_code == 403
    res = _post(
        stack,
        "marta",
        "/api/v1/pipelines",
        {"name": "Distribuidores", "stages": [{"name": "Contacto", "default_probability": 20}]},
    )
    assert res.status_code == 201, res.get_json()
    pipeline = res.get_json()
    assert [s["name"] for s in pipeline["stages"]] == ["Contacto", "Ganado", "Perdido"]
    assert [s["kind"] for s in pipeline["stages"]] == ["open", "won", "lost"]
    url = f"/api/v1/pipelines/{pipeline['id']}"
    assert stack.http.get(url, headers=stack.auth("carla")).status_code == 200
    added = _post(
        stack, "marta", f"{url}/stages", {"name": "Propuesta", "default_probability": 60}, **{"If-Match": '"1"'}
    )
    assert added.status_code == 201 and added.headers["ETag"] == '"2"'
    stale = _post(stack, "marta", f"{url}/stages", {"name": "Tarde"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    opens = [s["id"] for s in added.get_json()["stages"] if s["kind"] == "open"]
    reordered = _post(stack, "admin", f"{url}:reorderStages", {"stage_ids": list(reversed(opens))})
    assert [s["name"] for s in reordered.get_json()["stages"]] == ["Propuesta", "Contacto", "Ganado", "Perdido"]
    renamed = stack.http.patch(
        f"{url}/stages/{opens[0]}", json={"name": "Primer contacto"}, headers=stack.auth("marta")
    )
    assert renamed.status_code == 200 and renamed.get_json()["stages"][1]["name"] == "Primer contacto"

    client = _client(stack, "ana", "Distribuidora Ñ")
    deal = _deal(stack, "ana", client, pipeline_id=pipeline["id"], stage_id=opens[0])
    refused = stack.http.delete(f"{url}/stages/{opens[0]}", headers=stack.auth("marta"))
    assert refused.status_code == 400 and refused.get_json()["code"] == "stage_has_deals"
    deleted = stack.http.delete(
        f"{url}/stages/{opens[0]}?move_deals_to_stage_id={opens[1]}", headers=stack.auth("marta")
    )
    assert deleted.status_code == 200 and deleted.headers["X-Moved-Deal-Count"] == "1"
    assert stack.http.get(f"/api/v1/deals/{deal['id']}", headers=stack.auth("ana")).get_json()["stage_id"] == opens[1]
    assert stack.http.delete(url, headers=stack.auth("marta")).get_json()["code"] == "pipeline_has_deals"


def test_contacts_service_down_is_a_503_and_nothing_is_written(stack: Stack) -> None:
    client = _client(stack, "ana", "Caída Total")
    count = stack.http.get("/api/v1/deals?include_total_size=true", headers=stack.auth("admin")).get_json()[
        "total_size"
    ]
    stack.contacts.stop(grace=0)
    res = _post(stack, "ana", "/api/v1/deals", {"title": "Sin contactos", "client_id": client})
    assert res.status_code == 503 and res.get_json()["code"] == "service_unavailable"
    after = stack.http.get("/api/v1/deals?include_total_size=true", headers=stack.auth("admin")).get_json()[
        "total_size"
    ]
    assert after == count
