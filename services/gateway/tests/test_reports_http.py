"""/api/v1/reports through the gateway with the real services: runs narrowed to the records the
caller may see, bad definitions as 400 problems naming the part, saved reports visible by role
(own, team's, shared), changed only by whom may, and exports as .xlsx and .ics files streamed
through. The read models are filled straight in the reporting service's database (its projectors
are not what is tested here)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from icalendar import Calendar

from crm_reporting.adapters import tables

from .conftest import Stack

CREATED = datetime(2026, 2, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def deals(stack: Stack) -> dict[str, str]:
    """Deals of Ana (2, USD and COP), Beto (1) and Carla (1), by title → id."""
    out: dict[str, str] = {}
    rows = []
    for who, title, currency, minor, close in (
        ("ana", "Licencias Ana", "USD", 150_050, date(2026, 3, 1)),
        ("ana", "Consultoría Ana", "COP", 2_000_000, date(2026, 3, 15)),
        ("beto", "Equipos Beto", "USD", 20_000, date(2026, 4, 1)),
        ("carla", "Soporte Carla", "USD", 99, None),
    ):
        out[title] = str(uuid.uuid4())
        rows.append(
            {
                "id": out[title],
                "title": title,
                "owner_id": stack.id(who),
                "currency_code": currency,
                "amount_minor": minor,
                "status": "open",
                "expected_close_date": close,
                "created_at": CREATED,
                "version": 1,
                "event_time": CREATED,
            }
        )
    assert stack.reporting.db is not None
    with stack.reporting.db.engine.begin() as conn:
        conn.execute(sa.insert(tables.rm_deals), rows)
    return out


def _by_owner() -> dict[str, Any]:
    return {
        "module": "deals",
        "groupings": [{"field": "owner_id"}],
        "aggregates": [{"function": "count"}, {"function": "sum", "field": "amount"}],
    }


def _run(stack: Stack, who: str, definition: dict[str, Any]) -> Any:
    res = stack.http.post("/api/v1/reports:run", json=definition, headers=stack.auth(who))
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def test_a_run_reads_only_the_deals_the_caller_may_see(stack: Stack, deals: dict[str, str]) -> None:
    ana, beto, carla = stack.id("ana"), stack.id("beto"), stack.id("carla")
    body = _run(stack, "ana", _by_owner())
    assert [c["key"] for c in body["columns"]] == ["owner_id", "currency_code", "count()", "sum(amount)"]
    assert [c["type"] for c in body["columns"]] == ["string", "string", "integer", "money"]
    assert body["rows"] == [
        [ana, "COP", 1, {"amount": "2000000", "currency_code": "COP"}],
        [ana, "USD", 1, {"amount": "1500.50", "currency_code": "USD"}],
    ]
    assert body["total_row_count"] == 2
    # Marta leads team Norte (Ana and Beto): Carla's deal is not hers to see.
    owners = {tuple(r[:2]) for r in _run(stack, "marta", _by_owner())["rows"]}
    assert owners == {(ana, "COP"), (ana, "USD"), (beto, "USD")}
    assert {(carla, "USD"), (ana, "USD"), (beto, "USD")} <= {
        tuple(r[:2]) for r in _run(stack, "admin", _by_owner())["rows"]
    }
    listing = _run(
        stack,
        "carla",
        {"module": "deals", "columns": ["title", "amount", "expected_close_date"], "order_by": "title"},
    )
    assert listing["rows"] == [["Soporte Carla", {"amount": "0.99", "currency_code": "USD"}, None]]


def test_bad_definitions_are_400_problems_naming_the_part(stack: Stack, deals: dict[str, str]) -> None:
    res = stack.http.post(
        "/api/v1/reports:run",
        json={
            "module": "deals",
            "filters": [
                {"field": "status", "operator": "equals", "values": ["open"]},
                {"field": "foo", "operator": "equals", "values": ["x"]},
            ],
        },
        headers=stack.auth("ana"),
    )
    assert res.status_code == 400 and res.mimetype == "application/problem+json"
    problem = res.get_json()
    assert problem["errors"] == [
        {
            "field": "report_definition.filters[1].field",
            "message": "unknown field 'foo' for module deals",
            "code": "invalid",
        }
    ]
    res = stack.http.post(
        "/api/v1/reports:run",
        json={
            "module": "deals",
            "groupings": [{"field": "owner_id"}],
            "aggregates": [{"function": "sum", "field": "title"}],
        },
        headers=stack.auth("ana"),
    )
    assert res.status_code == 400
    assert [e["field"] for e in res.get_json()["errors"]] == ["report_definition.aggregates[0].field"]
    res = stack.http.post(
        "/api/v1/reports:run",
        json={"module": "deals", "filters": [{"field": "title", "operator": "like", "values": ["x"]}]},
        headers=stack.auth("ana"),
    )
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "filters[0].operator"
    res = stack.http.post("/api/v1/reports:run", json={"module": "ventas"}, headers=stack.auth("ana"))
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "module"
    res = stack.http.post(
        "/api/v1/reports",
        json={
            "name": "Malo",
            "module": "deals",
            "filters": [{"field": "amount", "operator": "greater_than", "values": ["x"]}],
        },
        headers=stack.auth("ana"),
    )
    assert res.status_code == 400
    assert res.get_json()["errors"][0]["field"] == "report_definition.filters[0].values[0]"
    listed = stack.http.get("/api/v1/reports", headers=stack.auth("ana")).get_json()["items"]
    assert "Malo" not in {r["name"] for r in listed}


def _save(stack: Stack, who: str, name: str, shared: bool, **extra: Any) -> dict[str, Any]:
    res = stack.http.post(
        "/api/v1/reports", json={"name": name, "shared": shared, **_by_owner(), **extra}, headers=stack.auth(who)
    )
    assert res.status_code == 201, res.get_json()
    assert res.headers["Location"].endswith(res.get_json()["id"]) and res.headers["ETag"] == '"1"'
    return dict(res.get_json())


def _names(stack: Stack, who: str) -> set[str]:
    res = stack.http.get("/api/v1/reports?module=deals", headers=stack.auth(who))
    assert res.status_code == 200
    return {r["name"] for r in res.get_json()["items"]}


def test_saved_reports_are_visible_by_role_and_changed_only_by_whom_may(stack: Stack, deals: dict[str, str]) -> None:
    private = _save(stack, "ana", "Ana privado", False)
    shared = _save(stack, "ana", "Ana compartido", True, description="Para todo el equipo")
    assert private["owner_id"] == stack.id("ana") and private["module"] == "deals"
    assert private["groupings"] == [{"field": "owner_id", "date_bucket": "none"}]
    carla_own = _save(stack, "carla", "Carla privado", False)

    assert {"Ana privado", "Ana compartido"} <= _names(stack, "ana") and "Carla privado" not in _names(stack, "ana")
    assert _names(stack, "beto") >= {"Ana compartido"} and "Ana privado" not in _names(stack, "beto")
    assert {"Ana privado", "Ana compartido"} <= _names(stack, "marta") and "Carla privado" not in _names(stack, "marta")
    assert {"Ana privado", "Ana compartido", "Carla privado"} <= _names(stack, "admin")

    assert stack.http.get(f"/api/v1/reports/{private['id']}", headers=stack.auth("beto")).status_code == 404
    assert stack.http.get(f"/api/v1/reports/{carla_own['id']}", headers=stack.auth("marta")).status_code == 404
    assert stack.http.get(f"/api/v1/reports/{shared['id']}", headers=stack.auth("beto")).status_code == 200

    # The shared report run by Beto counts only Beto's deals.
    res = stack.http.post(f"/api/v1/reports/{shared['id']}:run", json={}, headers=stack.auth("beto"))
    assert res.status_code == 200
    assert res.get_json()["rows"] == [[stack.id("beto"), "USD", 1, {"amount": "200.00", "currency_code": "USD"}]]
    assert (
        stack.http.post(f"/api/v1/reports/{private['id']}:run", json={}, headers=stack.auth("beto")).status_code == 404
    )

    res = stack.http.patch(f"/api/v1/reports/{shared['id']}", json={"name": "De Beto"}, headers=stack.auth("beto"))
    assert res.status_code == 403
    res = stack.http.patch(
        f"/api/v1/reports/{shared['id']}",
        json={"name": "Ventas del equipo", "order_by": "count() desc"},
        headers={**stack.auth("ana"), "If-Match": '"1"'},
    )
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["name"] == "Ventas del equipo" and res.get_json()["version"] == 2
    assert res.get_json()["order_by"] == "count() desc" and res.headers["ETag"] == '"2"'
    res = stack.http.patch(
        f"/api/v1/reports/{shared['id']}", json={"name": "Otra vez"}, headers={**stack.auth("ana"), "If-Match": '"1"'}
    )
    assert res.status_code == 412
    res = stack.http.patch(
        f"/api/v1/reports/{shared['id']}",
        json={"groupings": [{"field": "nada"}]},
        headers=stack.auth("marta"),
    )
    assert res.status_code == 400 and res.get_json()["errors"][0]["field"] == "report_definition.groupings[0].field"

    assert stack.http.delete(f"/api/v1/reports/{private['id']}", headers=stack.auth("beto")).status_code == 404
    assert stack.http.delete(f"/api/v1/reports/{private['id']}", headers=stack.auth("marta")).status_code == 204
    assert stack.http.get(f"/api/v1/reports/{private['id']}", headers=stack.auth("ana")).status_code == 404


def test_exports_stream_a_workbook_and_a_calendar_of_the_callers_records(stack: Stack, deals: dict[str, str]) -> None:
    saved = _save(stack, "ana", "Cierres", True)
    res = stack.http.get(f"/api/v1/reports/{saved['id']}/export?format=xlsx", headers=stack.auth("marta"))
    assert res.status_code == 200
    assert res.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert res.headers["Content-Disposition"].startswith('attachment; filename="Cierres-')
    wb = openpyxl.load_workbook(io.BytesIO(res.get_data()))
    assert wb.sheetnames == ["Negocios", "Filtros"]
    rows = [[c.value for c in r] for r in wb["Negocios"].iter_rows()]
    # The owner reads as their name, not an id.
    ana, beto = "Ana Rep", "Beto Rep"
    assert rows == [
        ["Responsable", "Moneda", "Cantidad", "Suma de monto"],
        [ana, "COP", 1, 2_000_000],
        [ana, "USD", 1, 1500.5],
        [beto, "USD", 1, 200],
        ["Total COP", "COP", 1, 2_000_000],
        ["Total USD", "USD", 2, 1700.5],
    ]
    assert wb["Negocios"].freeze_panes == "A2"

    res = stack.http.post(
        "/api/v1/reports:export",
        json={"module": "deals", "format": "ics", "time_zone": "America/Bogota"},
        headers=stack.auth("ana"),
    )
    assert res.status_code == 200 and res.mimetype == "text/calendar"
    events = {str(e["UID"]): e for e in Calendar.from_ical(res.get_data()).walk("VEVENT")}
    assert set(events) == {f"deals-{deals['Licencias Ana']}@crm", f"deals-{deals['Consultoría Ana']}@crm"}
    licencias = events[f"deals-{deals['Licencias Ana']}@crm"]
    assert licencias.decoded("DTSTART") == date(2026, 3, 1) and str(licencias["SUMMARY"]) == "Licencias Ana"

    res = stack.http.post(
        "/api/v1/reports:export", json={"module": "clients", "format": "ics"}, headers=stack.auth("ana")
    )
    assert res.status_code == 400 and res.get_json()["code"] == "report_not_dated"
    res = stack.http.get(f"/api/v1/reports/{saved['id']}/export?format=pdf", headers=stack.auth("ana"))
    assert res.status_code == 400
    res = stack.http.get(f"/api/v1/reports/{saved['id']}/export?format=ics", headers=stack.auth("ana"))
    assert res.status_code == 400 and res.get_json()["code"] == "grouped_report_not_dated"
