"""Activities through the gateway against the real deals and contacts services: create, get,
list, update, complete, cancel and delete with their errors (each bad field named, unknown records
a 400, stale If-Match a 412, nothing written), overdue and upcoming per owner, and who sees and
changes whose activities (a rep only their own; the manager the team's; the admin all)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from crm_deals.adapters.tables import activities

from .conftest import Stack

UNKNOWN = "0192d6e0-0000-7000-8000-000000000000"
PAST = "2001-03-05T09:00:00Z"
FUTURE = "2090-03-05T09:00:00Z"


def _post(stack: Stack, who: str, url: str, body: dict[str, Any], **headers: str) -> Any:
    return stack.http.post(url, json=body, headers={**stack.auth(who), **headers})


def _client(stack: Stack, who: str, name: str) -> str:
    res = _post(stack, who, "/api/v1/clients", {"name": name})
    assert res.status_code == 201, res.get_json()
    return str(res.get_json()["id"])


def _activity(stack: Stack, who: str, client_id: str, **body: Any) -> dict[str, Any]:
    body = {"kind": "call", "subject": "Llamar", "client_id": client_id, "due_time": FUTURE, **body}
    res = _post(stack, who, "/api/v1/activities", body)
    assert res.status_code == 201, res.get_json()
    return dict(res.get_json())


def _ids(stack: Stack, who: str, query: str) -> list[str]:
    res = stack.http.get(f"/api/v1/activities?{query}", headers=stack.auth(who))
    assert res.status_code == 200, res.get_json()
    return [a["id"] for a in res.get_json()["items"]]


def _stored(stack: Stack) -> int:
    assert stack.deals.db is not None
    with stack.deals.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(activities)) or 0)


def test_an_activity_from_scheduling_to_deletion(stack: Stack) -> None:
    client_id = _client(stack, "ana", "Actividades SA")
    meeting = {
        "kind": "meeting",
        "subject": " Reunión de cierre ",
        "client_id": client_id,
        "due_time": "2090-03-05T04:00:00-05:00",
        "duration_seconds": 3600,
    }
    res = _post(stack, "ana", "/api/v1/activities", meeting, **{"Idempotency-Key": "reunion-1"})
    assert res.status_code == 201, res.get_json()
    made = res.get_json()
    assert res.headers["ETag"] == '"1"' and res.headers["Location"].endswith(f"/api/v1/activities/{made['id']}")
    assert (made["kind"], made["subject"], made["status"], made["due_time"]) == (
        "meeting",
        "Reunión de cierre",
        "scheduled",
        FUTURE,
    )
    assert made["owner_id"] == stack.id("ana") and made["done_time"] is None
    again = _post(stack, "ana", "/api/v1/activities", meeting, **{"Idempotency-Key": "reunion-1"})
    assert again.status_code == 201 and again.get_json() == made  # the same key and body: the first answer
    other = _post(
        stack, "ana", "/api/v1/activities", {"kind": "call", "subject": "x"}, **{"Idempotency-Key": "reunion-1"}
    )
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    url = f"/api/v1/activities/{made['id']}"
    got = stack.http.get(url, headers=stack.auth("ana"))
    assert got.status_code == 200 and got.get_json() == made and got.headers["ETag"] == '"1"'
    assert _ids(stack, "ana", f"client_id={client_id}&kind=meeting&q=CIERRE") == [made["id"]]

    patched = stack.http.patch(url, json={"notes": "Llevar muestras"}, headers={**stack.auth("ana"), "If-Match": '"1"'})
    assert patched.status_code == 200 and patched.headers["ETag"] == '"2"'
    stale = stack.http.patch(url, json={"notes": "Tarde"}, headers={**stack.auth("ana"), "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    stale = _post(stack, "ana", f"{url}:complete", {"outcome": "x"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stack.http.get(url, headers=stack.auth("ana")).get_json()["notes"] == "Llevar muestras"

    done = _post(stack, "ana", f"{url}:complete", {"outcome": "Pidió cotización", "done_time": PAST})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert (body["status"], body["outcome"], body["done_time"], body["version"]) == (
        "done",
        "Pidió cotización",
        PAST,
        3,
    )
    assert done.headers["ETag"] == '"3"'
    repeat = _post(stack, "ana", f"{url}:complete", {"outcome": "Pidió cotización"})
    assert repeat.status_code == 200 and repeat.get_json() == body  # a retry changes nothing
    other = _post(stack, "ana", f"{url}:complete", {"outcome": "Otra cosa"})
    assert other.status_code == 400 and other.get_json()["code"] == "activity_already_done"
    late = _post(stack, "ana", f"{url}:cancel", {"reason": "tarde"})
    assert late.status_code == 400 and late.get_json()["code"] == "activity_already_done"

    call = _activity(stack, "ana", client_id)
    missing_reason = _post(stack, "ana", f"/api/v1/activities/{call['id']}:cancel", {})
    assert missing_reason.status_code == 400 and missing_reason.get_json()["errors"][0]["field"] == "reason"
    off = _post(stack, "ana", f"/api/v1/activities/{call['id']}:cancel", {"reason": "El cliente viaja"})
    assert off.status_code == 200 and (off.get_json()["status"], off.get_json()["cancel_reason"]) == (
        "cancelled",
        "El cliente viaja",
    )
    assert _ids(stack, "ana", f"client_id={client_id}&status=cancelled") == [call["id"]]

    assert stack.http.delete(url, headers=stack.auth("ana")).status_code == 204
    gone = stack.http.get(url, headers=stack.auth("ana"))
    assert gone.status_code == 404 and gone.get_json()["code"] == "activity_not_found"
    assert _ids(stack, "ana", f"client_id={client_id}") == [call["id"]]


def test_an_activity_logged_done_and_one_on_a_deal_less_client(stack: Stack) -> None:
    client_id = _client(stack, "beto", "Registro SA")
    contact = _post(stack, "beto", "/api/v1/contacts", {"client_id": client_id, "first_name": "Lucía"}).get_json()
    logged = _activity(stack, "beto", "", contact_id=contact["id"], status="done", outcome="No contestó", due_time=None)
    assert (logged["status"], logged["outcome"], logged["due_time"]) == ("done", "No contestó", None)
    assert logged["client_id"] == client_id and logged["done_time"] is not None  # the contact's client
    assert _ids(stack, "beto", f"client_id={client_id}&status=done") == [logged["id"]]
    assert _ids(stack, "beto", f"client_id={client_id}&due=overdue") == []  # done: on no one's agenda


def test_overdue_and_upcoming_of_each_owner(stack: Stack) -> None:
    client_id = _client(stack, "admin", "Agenda SA")
    ana_late_2 = _activity(stack, "ana", client_id, due_time="2001-03-05T11:00:00Z")["id"]
    ana_late_1 = _activity(stack, "ana", client_id, due_time=PAST)["id"]
    ana_soon = _activity(stack, "ana", client_id, due_time=FUTURE)["id"]
    beto_late = _activity(stack, "beto", client_id, due_time="2001-03-05T10:00:00Z")["id"]
    carla_late = _activity(stack, "carla", client_id, due_time=PAST)["id"]
    scope = f"client_id={client_id}"

    assert _ids(stack, "ana", f"{scope}&due=overdue") == [ana_late_1, ana_late_2]
    assert _ids(stack, "ana", f"{scope}&due=upcoming") == [ana_soon]
    assert _ids(stack, "beto", f"{scope}&due=overdue") == [beto_late]
    assert _ids(stack, "marta", f"{scope}&due=overdue") == [ana_late_1, beto_late, ana_late_2]
    assert _ids(stack, "marta", f"{scope}&due=overdue&owner_id={stack.id('ana')}") == [ana_late_1, ana_late_2]
    assert _ids(stack, "admin", f"{scope}&due=overdue") == [ana_late_1, carla_late, beto_late, ana_late_2]
    # A rep asking for another rep's agenda gets nothing, not an error.
    assert _ids(stack, "carla", f"{scope}&due=overdue&owner_id={stack.id('ana')}") == []
    # Paging: one at a time, in the same order.
    first = stack.http.get(f"/api/v1/activities?{scope}&due=overdue&page_size=1", headers=stack.auth("ana")).get_json()
    token = first["next_page_token"]
    assert [a["id"] for a in first["items"]] == [ana_late_1] and token
    second = stack.http.get(
        f"/api/v1/activities?{scope}&due=overdue&page_size=1&page_token={token}", headers=stack.auth("ana")
    ).get_json()
    assert [a["id"] for a in second["items"]] == [ana_late_2]
    window = f"{scope}&due_after=2001-03-05T10:00:00Z&due_before=2001-03-05T11:00:00Z"
    assert _ids(stack, "admin", window) == [beto_late]
    res = stack.http.get(f"/api/v1/activities?{scope}&due=overdue&status=done", headers=stack.auth("ana"))
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "due"


def test_who_sees_and_changes_whose_activities(stack: Stack) -> None:
    client_id = _client(stack, "ana", "Privado SA")
    mine = _activity(stack, "ana", client_id)
    url = f"/api/v1/activities/{mine['id']}"
    for stranger in ("carla", "beto"):
        for res in (
            stack.http.get(url, headers=stack.auth(stranger)),
            stack.http.patch(url, json={"subject": "mío"}, headers=stack.auth(stranger)),
            _post(stack, stranger, f"{url}:complete", {"outcome": "x"}),
            stack.http.delete(url, headers=stack.auth(stranger)),
        ):
            assert res.status_code == 404 and res.get_json()["code"] == "activity_not_found", stranger
        assert _ids(stack, stranger, f"client_id={client_id}") == []
    assert stack.http.get(url, headers=stack.auth("admin")).status_code == 200
    by_manager = stack.http.patch(url, json={"subject": "Revisado por Marta"}, headers=stack.auth("marta"))
    assert by_manager.status_code == 200 and by_manager.get_json()["subject"] == "Revisado por Marta"
    assert _ids(stack, "marta", f"client_id={client_id}") == [mine["id"]]
    # A rep cannot hand an activity to someone else; the manager can, within the team.
    to_carla = stack.http.patch(url, json={"owner_id": stack.id("carla")}, headers=stack.auth("ana"))
    assert to_carla.status_code == 403
    to_beto = stack.http.patch(url, json={"owner_id": stack.id("beto")}, headers=stack.auth("marta"))
    assert to_beto.status_code == 200 and to_beto.get_json()["owner_id"] == stack.id("beto")
    assert stack.http.get(url, headers=stack.auth("ana")).status_code == 404
    assert stack.http.get(url, headers=stack.auth("beto")).status_code == 200


def test_bad_input_names_the_field_and_writes_nothing(stack: Stack) -> None:
    client_id = _client(stack, "ana", "Errores SA")
    before = _stored(stack)
    base = {"kind": "call", "subject": "Llamar", "client_id": client_id, "due_time": FUTURE}
    for body, field, code in (
        ({**base, "subject": ""}, "subject", "validation_failed"),
        ({**base, "kind": "fax"}, "kind", "validation_failed"),
        ({**base, "duration_seconds": -1}, "duration_seconds", "validation_failed"),
        ({**base, "due_time": "mañana"}, "due_time", "validation_failed"),
        ({**base, "due_time": "0001-01-01T00:00:00+01:00"}, "due_time", "validation_failed"),
        ({**base, "client_id": "nope"}, "client_id", "validation_failed"),
        ({**base, "status": "cancelled"}, "status", "validation_failed"),
        ({**base, "notes": "x" * 5001}, "notes", "validation_failed"),
        ({**base, "due_time": None}, "due_time", "invalid_argument"),
        ({**base, "client_id": ""}, "deal_id", "invalid_argument"),
        ({**base, "outcome": "ya"}, "outcome", "invalid_argument"),
        ({**base, "client_id": UNKNOWN}, "client_id", "client_not_found"),
        ({**base, "deal_id": UNKNOWN}, "deal_id", "deal_not_found"),
        ({**base, "prospect_id": UNKNOWN}, "prospect_id", "prospect_not_found"),
    ):
        res = _post(stack, "ana", "/api/v1/activities", body)
        assert res.status_code == 400, (body, res.get_json())
        problem = res.get_json()
        assert problem["code"] == code, (body, problem)
        named = [e["field"] for e in problem.get("errors", [])] or [problem.get("field")]
        assert field in named, (body, problem)
    unknown = _post(stack, "ana", "/api/v1/activities", {**base, "contact_id": UNKNOWN}).get_json()
    assert (unknown["field"], unknown["id"]) == ("contact_id", UNKNOWN)
    assert _stored(stack) == before

    made = _activity(stack, "ana", client_id)
    url = f"/api/v1/activities/{made['id']}"
    for body, field in (({"status": "done"}, "status"), ({"done_time": PAST}, "done_time"), ({"kind": None}, "kind")):
        res = stack.http.patch(url, json=body, headers=stack.auth("ana"))
        assert res.status_code == 400 and field in [e["field"] for e in res.get_json()["errors"]], res.get_json()
    empty = stack.http.patch(url, json={}, headers=stack.auth("ana"))
    assert empty.status_code == 400 and empty.get_json()["code"] == "empty_update"
    for query, field in (("due=soon", "due"), ("due_after=2026-01-01", "due_after"), ("page_size=-1", "page_size")):
        res = stack.http.get(f"/api/v1/activities?{query}", headers=stack.auth("ana"))
        assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == field, res.get_json()
    assert stack.http.get(url, headers=stack.auth("ana")).get_json() == made
    assert _stored(stack) == before + 1
