"""What the services answer, through the gateway against the real services, on SQLite and on
PostgreSQL (when CRM_TEST_POSTGRES_URL is set): one answer for one situation (issue 16, part B).

- a tax id is checked by its country's rule (check digits): an invalid one is a 400 naming
  tax_id.value and saying why; valid ones are stored in one normal form, so that 900.123.456-8
  and 9001234568 are one client to the duplicate check; imports follow the same rule;
- another rep's (or another team's) indicators read as missing, exactly as an unknown team's;
- a call outcome on a member skipped at launch is a 409 member_skipped and opens no deal;
- two racing conversions of one prospect both answer, and exactly one says it converted it;
- an accepted quote's lines become its deal's line items, once (a redelivered event changes
  nothing);
- a dry run of an import reports the rows it would create, update and refuse;
- exports read like a report: names, words and dates, not ids, codes and date parts;
- a deal's and a prospect's source campaign follows visibility: another rep's campaign is
  refused exactly as an unknown one;
- an action route (`:win`, `:reopen` ...) takes an empty body."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from crm.quotes.v1 import events_pb2 as quotes_events
from crm_platform.eventbus import subject_for
from crm_platform.service import ServiceRuntime
from crm_platform.tables import outbox_events, processed_events
from crm_platform.testing import publish_events

from .conftest import Stack, stack_on_both_databases

UNKNOWN = "0192d6e0-0000-7000-8000-00000000f00d"


# The stack on SQLite, then on PostgreSQL (conftest).
stack = stack_on_both_databases


def _post(stack: Stack, who: str, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return stack.http.post(url, json=body if body is not None else {}, headers={**stack.auth(who), **headers})


def _get(stack: Stack, who: str, url: str, **query: Any) -> Any:
    return stack.http.get(url, query_string=query, headers=stack.auth(who))


def _created(stack: Stack, who: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    res = _post(stack, who, url, body)
    assert res.status_code == 201, (res.get_json().get("detail"), res.get_json().get("errors"))
    return dict(res.get_json())


def _count(stack: Stack, url: str, **query: Any) -> int:
    res = _get(stack, "admin", url, page_size=500, **query)
    assert res.status_code == 200, res.get_json()
    return len(res.get_json()["items"])


def _import(stack: Stack, who: str, url: str, text: str) -> Any:
    return stack.http.post(url, data=text.encode(), content_type="text/csv", headers=stack.auth(who))


# --- Tax ids ---------------------------------------------------------------------------------------


def test_a_tax_id_is_checked_by_its_country_and_kept_in_one_normal_form(stack: Stack) -> None:
    before = _count(stack, "/api/v1/clients")
    bad = _post(
        stack, "ana", "/api/v1/clients", {"name": "Mal NIT", "tax_id": {"country_code": "CO", "value": "900123456-7"}}
    )
    assert bad.status_code == 400, bad.get_json()
    assert bad.get_json()["errors"] == [
        {
            "field": "tax_id.value",
            "message": "'900123456-7' is not a valid CO NIT: its check digit does not match",
            "code": "invalid",
        }
    ]
    assert _count(stack, "/api/v1/clients") == before

    first = _created(
        stack, "ana", "/api/v1/clients", {"name": "Bien NIT", "tax_id": {"country_code": "CO", "value": "9001234568"}}
    )
    assert first["tax_id"] == {"country_code": "CO", "value": "900123456-8"}
    # The same NIT written another way is the same client.
    again = _post(
        stack,
        "ana",
        "/api/v1/clients",
        {"name": "Bien NIT otra vez", "tax_id": {"country_code": "CO", "value": "900.123.456-8"}},
    )
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["existing_id"] == first["id"] and again.get_json()["field"] == "tax_id"
    # Each country its own rule; a country without a rule keeps the id as given, trimmed.
    chile = _created(
        stack, "ana", "/api/v1/clients", {"name": "Chilena", "tax_id": {"country_code": "CL", "value": "12.345.678-5"}}
    )
    assert chile["tax_id"] == {"country_code": "CL", "value": "12345678-5"}
    other = _created(
        stack, "ana", "/api/v1/clients", {"name": "Otra", "tax_id": {"country_code": "US", "value": " 12-3456789 "}}
    )
    assert other["tax_id"] == {"country_code": "US", "value": "12-3456789"}
    # An update goes through the same rule.
    patched = stack.http.patch(
        f"/api/v1/clients/{chile['id']}",
        json={"tax_id": {"country_code": "CL", "value": "12.345.678-K"}},
        headers={**stack.auth("ana"), "If-Match": f'"{chile["version"]}"'},
    )
    assert patched.status_code == 400 and patched.get_json()["errors"][0]["field"] == "tax_id.value"


def test_an_import_checks_tax_ids_and_finds_duplicates_by_normal_form(stack: Stack) -> None:
    csv = (
        "Nombre,NIT,País\n"
        "Importada Uno,800.111.222-7,CO\n"  # valid, new
        "Importada Dos,800111222-3,CO\n"  # wrong check digit
        "Importada Tres,9001234568,CO\n"  # the client created above, written another way
    )
    if not _count(stack, "/api/v1/clients", q="900123456-8"):  # run alone: the client the test above made
        _created(
            stack, "ana", "/api/v1/clients", {"name": "Ya", "tax_id": {"country_code": "CO", "value": "9001234568"}}
        )
    res = _import(stack, "ana", "/api/v1/clients:import", csv)
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert (body["created"], body["duplicates"], body["failed"]) == (1, 1, 1), body
    assert [(p["row"], p["field"]) for p in body["problems"]] == [(3, "tax_id")]
    assert "check digit" in body["problems"][0]["message"]


# --- One answer for one situation ------------------------------------------------------------------


def test_indicators_the_caller_may_not_see_read_as_missing(stack: Stack) -> None:
    query = {"period": "quarter", "start": "2026-01-01"}
    team = stack.users["team"]["id"]

    def problem(who: str, **q: str) -> tuple[int, str, str]:
        res = _get(stack, who, "/api/v1/indicators", **query, **q)
        body = res.get_json()
        return res.status_code, body.get("code", ""), body.get("detail", "").replace(q.get("id", ""), "<id>")

    # Another rep's indicators answer as a team that does not exist does: a 404 of its kind.
    unknown_team = problem("admin", scope="team", id=UNKNOWN)
    assert unknown_team == (404, "team_not_found", "team '<id>' not found")
    assert problem("carla", scope="team", id=team) == unknown_team
    assert problem("ana", scope="team", id=team) == unknown_team
    assert problem("ana", id=stack.id("beto")) == (404, "user_not_found", "user '<id>' not found")
    assert problem("ana", id=UNKNOWN) == problem("ana", id=stack.id("beto"))
    assert problem("marta", id=stack.id("carla")) == (404, "user_not_found", "user '<id>' not found")
    # The company is not a record: it is the admin's right, and says so.
    assert problem("ana", scope="company")[:2] == (403, "forbidden")
    # What the caller may see still answers.
    assert _get(stack, "marta", "/api/v1/indicators", **query, id=stack.id("ana")).status_code == 200


def test_a_call_outcome_on_a_member_skipped_at_launch_is_refused(stack: Stack) -> None:
    client = _created(
        stack,
        "beto",
        "/api/v1/clients",
        {"name": "Ferretería Sin Teléfono", "segment_tags": ["llamar-skip"], "force_duplicate": True},
    )
    with_phone = _created(
        stack,
        "beto",
        "/api/v1/contacts",
        {"client_id": client["id"], "first_name": "Rosa", "phones": ["+573001234599"]},
    )
    _created(stack, "beto", "/api/v1/contacts", {"client_id": client["id"], "first_name": "Sin", "last_name": "Fono"})
    campaign = _created(
        stack,
        "beto",
        "/api/v1/campaigns",
        {
            "name": "Llamadas skip",
            "type": "telemarketing",
            "target": {"kind": "contacts", "segment_tags": ["llamar-skip"]},
        },
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    launched = _post(stack, "beto", f"{url}:launch")
    assert launched.status_code == 200, launched.get_json()
    assert (launched.get_json()["member_count"], launched.get_json()["skipped_count"]) == (2, 1)
    members = _get(stack, "beto", f"{url}/members").get_json()["items"]
    skipped = next(m for m in members if m["status"] == "skipped")
    assert skipped["contact_id"] != with_phone["id"]
    deals_before = _count(stack, "/api/v1/deals")

    res = _post(
        stack, "beto", f"{url}/members/{skipped['id']}:call", {"outcome": "interested", "follow_up": "create_deal"}
    )

    assert res.status_code == 409, res.get_json()
    assert res.get_json()["code"] == "member_skipped" and "skipped at launch" in res.get_json()["detail"]
    assert _count(stack, "/api/v1/deals") == deals_before
    after = _get(stack, "beto", f"{url}/members/{skipped['id']}")
    if after.status_code == 200:  # the member is unchanged: no call counted
        assert after.get_json()["status"] == "skipped" and after.get_json().get("call_count", 0) == 0


# --- Conversion tells who did it -------------------------------------------------------------------


def test_of_two_racing_conversions_exactly_one_converted(stack: Stack) -> None:
    prospect = _created(
        stack,
        "ana",
        "/api/v1/prospects",
        {"company_name": "Carrera SAS", "first_name": "Lía", "email": "lia@carrera.example", "source": "web"},
    )
    url = f"/api/v1/prospects/{prospect['id']}:convert"
    barrier = threading.Barrier(2)

    def convert() -> Any:
        barrier.wait()
        return stack.app.test_client().post(url, json={}, headers=stack.auth("ana"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [f.result() for f in [pool.submit(convert) for _ in range(2)]]

    assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
    bodies = [a.get_json() for a in answers]
    assert sorted(b["converted_now"] for b in bodies) == [False, True]
    # Both describe the one conversion: the same client, created by it.
    assert bodies[0]["client"]["id"] == bodies[1]["client"]["id"]
    assert [b["client_created"] for b in bodies] == [True, True]
    assert _count(stack, "/api/v1/clients", q="Carrera SAS") == 1
    again = _post(stack, "ana", url).get_json()
    assert (again["converted_now"], again["client"]["id"]) == (False, bodies[0]["client"]["id"])


# --- Dry runs say what would happen ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "csv", "count_url"),
    [
        (
            "/api/v1/clients:import",
            "Nombre,Correo\nSeco Uno,seco1@dry.example\nSeco Dos,seco2@dry.example\nSin correo,no-es-correo\n",
            "/api/v1/clients",
        ),
        (
            "/api/v1/prospects:import",
            "Empresa,Correo\nSeco P1,p1@dry.example\nSeco P2,p2@dry.example\nSeco P3,no-es-correo\n",
            "/api/v1/prospects",
        ),
        (
            "/api/v1/products:import",
            "SKU,Nombre,Precio,Moneda,IVA\nDRY-1,Seco 1,10.00,COP,19 %\nDRY-2,Seco 2,20.00,COP,19 %\n"
            "DRY-3,Seco 3,-1,COP,19 %\n",
            "/api/v1/products",
        ),
    ],
)
def test_a_dry_run_reports_the_rows_it_would_create_and_refuse(
    stack: Stack, url: str, csv: str, count_url: str
) -> None:
    who = "admin" if "products" in url else "ana"
    before = _count(stack, count_url)

    dry = _import(stack, who, f"{url}?dry_run=true", csv)

    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    assert report["dry_run"] is True
    assert (report["total_rows"], report["created"], report["duplicates"], report["failed"]) == (3, 2, 0, 1)
    assert report["created_rows"] == [2, 3] and report.get("created_ids", []) == []
    assert [p["row"] for p in report["problems"]] == [4]
    assert _count(stack, count_url) == before  # nothing written
    real = _import(stack, who, url, csv).get_json()
    # The same per-row report as the real run, which then creates those rows.
    assert real.get("dry_run", False) is False
    assert (real["created"], real["created_rows"], real["problems"]) == (2, [2, 3], report["problems"])
    assert len(real["created_ids"]) == 2 and _count(stack, count_url) == before + 2
    # Run dry again: the rows would now be duplicates.
    again = _import(stack, who, f"{url}?dry_run=true", csv).get_json()
    assert (again["created"], again["duplicates"], again["failed"]) == (0, 2, 1)


# --- An accepted quote's lines become the deal's line items ----------------------------------------


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _processed(runtime: ServiceRuntime, event_id: str) -> bool:
    assert runtime.db is not None
    with runtime.db.read() as s:
        return s.scalar(select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)) is not None


def test_an_accepted_quotes_lines_become_the_deals_line_items_once(stack: Stack) -> None:
    client = _created(stack, "ana", "/api/v1/clients", {"name": "Cliente Cotizado", "force_duplicate": True})
    deal = _created(
        stack,
        "ana",
        "/api/v1/deals",
        {"title": "Cámaras", "client_id": client["id"], "amount": {"amount": "0", "currency_code": "USD"}},
    )
    products = [
        _created(
            stack,
            "admin",
            "/api/v1/products",
            {
                "sku": sku,
                "name": f"Cámara {sku}",
                "kind": "product",
                "unit_price": {"amount": "100", "currency_code": "USD"},
                "tax_rate": "0",
            },
        )
        for sku in ("LI-CAM-1", "LI-CAM-2")
    ]
    lines = [
        {"product_id": products[0]["id"], "quantity": "2"},
        {"product_id": products[1]["id"], "quantity": "1"},
        {"product_id": products[0]["id"], "quantity": "3"},  # the same product again: summed
    ]
    quote = _created(stack, "ana", "/api/v1/quotes", {"deal_id": deal["id"], "lines": lines})
    url = f"/api/v1/quotes/{quote['id']}"
    assert _post(stack, "ana", f"{url}:send").status_code == 200
    accepted = _post(stack, "ana", f"{url}:accept")
    assert accepted.status_code == 200, accepted.get_json()

    def read_deal() -> dict[str, Any]:
        return dict(_get(stack, "ana", f"/api/v1/deals/{deal['id']}").get_json())

    _eventually(lambda: bool(read_deal().get("line_items")))
    after = read_deal()
    assert [(i["product_id"], i["quantity"]) for i in after["line_items"]] == [
        (products[0]["id"], "5"),
        (products[1]["id"], "1"),
    ]
    assert after["accepted_quote_id"] == quote["id"] and after["amount"]["amount"] == "600.00"

    # The same acceptance again under a new event id (a relay retry after the dedupe window)
    # changes nothing: the deal keeps its version.
    assert stack.quotes.db is not None
    with stack.quotes.db.read() as s:
        payloads = s.scalars(
            select(outbox_events.c.payload).where(outbox_events.c.subject == subject_for(quotes_events.QuoteAccepted))
        ).all()
    event = next(e for e in (quotes_events.QuoteAccepted.FromString(p) for p in payloads) if e.quote.id == quote["id"])
    event.meta.event_id = str(uuid.uuid4())
    publish_events(stack.quotes.config.platform.nats_url, [event])
    _eventually(lambda: _processed(stack.deals, event.meta.event_id))
    assert read_deal()["version"] == after["version"]


# --- References follow visibility ------------------------------------------------------------------


def test_a_source_campaign_the_caller_may_not_see_answers_as_an_unknown_one(stack: Stack) -> None:
    carlas = _created(stack, "carla", "/api/v1/campaigns", {"name": "La de Carla", "type": "mailing"})
    anas = _created(stack, "ana", "/api/v1/campaigns", {"name": "La de Ana", "type": "mailing"})
    client = _created(stack, "ana", "/api/v1/clients", {"name": "Cliente Atribuido", "force_duplicate": True})
    deal_body = {"title": "Atribuido", "client_id": client["id"], "amount": {"amount": "1", "currency_code": "USD"}}
    prospect_body = {"company_name": "Prospecto Atribuido", "source": "campaign", "email": "pa@atribuido.example"}
    deals_before, prospects_before = _count(stack, "/api/v1/deals"), _count(stack, "/api/v1/prospects")

    def refused(res: Any, campaign_id: str) -> dict[str, Any]:
        assert res.status_code == 400, res.get_json()
        body = dict(res.get_json())
        assert (body["code"], body["field"]) == ("campaign_not_found", "source_campaign_id")
        return {k: v.replace(campaign_id, "<id>") if isinstance(v, str) else v for k, v in body.items()
                if k not in ("request_id", "id")}  # fmt: skip

    for url, body in (("/api/v1/deals", deal_body), ("/api/v1/prospects", prospect_body)):
        others = refused(_post(stack, "ana", url, {**body, "source_campaign_id": carlas["id"]}), carlas["id"])
        unknown = refused(_post(stack, "ana", url, {**body, "source_campaign_id": UNKNOWN}), UNKNOWN)
        assert others == unknown
    assert (_count(stack, "/api/v1/deals"), _count(stack, "/api/v1/prospects")) == (deals_before, prospects_before)

    # Their own campaign is fine; then an update to another's is refused the same way.
    deal = _created(stack, "ana", "/api/v1/deals", {**deal_body, "source_campaign_id": anas["id"]})
    prospect = _created(stack, "ana", "/api/v1/prospects", {**prospect_body, "source_campaign_id": anas["id"]})
    for url, record in ((f"/api/v1/deals/{deal['id']}", deal), (f"/api/v1/prospects/{prospect['id']}", prospect)):
        res = stack.http.patch(
            url,
            json={"source_campaign_id": carlas["id"]},
            headers={**stack.auth("ana"), "If-Match": f'"{record["version"]}"'},
        )
        refused(res, carlas["id"])
        assert _get(stack, "ana", url).get_json()["source_campaign_id"] == anas["id"]
    # An admin sees every campaign, and may attribute a deal to any.
    assert _post(stack, "admin", "/api/v1/deals", {**deal_body, "source_campaign_id": carlas["id"]}).status_code == 201


# --- Exports read like a report ------------------------------------------------------------------


def test_exports_show_names_words_and_dates(stack: Stack) -> None:
    client = _created(stack, "beto", "/api/v1/clients", {"name": "Exportadora Andina", "force_duplicate": True})
    deal = _created(
        stack,
        "beto",
        "/api/v1/deals",
        {
            "title": "Exportación ganada",
            "client_id": client["id"],
            "amount": {"amount": "1234.50", "currency_code": "USD"},
            "expected_close_date": "2026-05-20",
        },
    )
    won = _post(stack, "beto", f"/api/v1/deals/{deal['id']}:win", **{"If-Match": f'"{deal["version"]}"'})
    assert won.status_code == 200, won.get_json()
    pipelines = _get(stack, "beto", "/api/v1/pipelines").get_json()["items"]
    stage = next(s["name"] for p in pipelines for s in p["stages"] if s["id"] == won.get_json()["stage_id"])

    # deals:export: names and words, one date column.
    exported = _get(stack, "beto", "/api/v1/deals:export", client_id=client["id"])
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["Título"], row["Cliente"], row["Responsable"], row["Etapa"], row["Estado"]) == (
        "Exportación ganada",
        "Exportadora Andina",
        "Beto Rep",
        stage,
        "Ganado",
    )
    assert row["Cierre esperado"] == "2026-05-20" and row["Monto"] == "1234.50" and row["id"] == deal["id"]
    assert not any(k.endswith((".year", ".month", ".day")) for k in row)

    # The reporting workbook: the same, with typed cells (a date as a date, money as a number).
    spec = {
        "module": "deals",
        "filters": [{"field": "client_id", "operator": "equals", "values": [client["id"]]}],
        "columns": ["title", "client_id", "owner_id", "stage_id", "status", "expected_close_date", "amount"],
    }

    def reported() -> bool:
        res = _post(stack, "beto", "/api/v1/reports:run", spec)
        return res.status_code == 200 and any("won" in map(str, r) for r in _row_values(res.get_json()))

    _eventually(reported)
    res = _post(stack, "beto", "/api/v1/reports:export", {**spec, "format": "xlsx", "time_zone": "America/Bogota"})
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(res.get_data())).worksheets[0]
    header, line = ([c.value for c in r] for r in sheet.iter_rows(max_row=2))
    assert header[:5] == ["Título", "Cliente", "Responsable", "Etapa", "Estado"]
    assert line[:5] == ["Exportación ganada", "Exportadora Andina", "Beto Rep", stage, "Ganado"]
    assert line[5] == datetime(2026, 5, 20) and line[6] == 1234.5


def _row_values(body: dict[str, Any]) -> list[list[Any]]:
    """A run's rows as lists of cell values, whatever shape a row takes (a list, or an object
    with its values)."""
    out = []
    for r in body.get("rows", []):
        if isinstance(r, dict):
            r = r.get("values", list(r.values()))
        out.append([v.get("value", v) if isinstance(v, dict) else v for v in r])
    return out


# --- Actions take an empty body --------------------------------------------------------------------


def test_an_action_whose_body_is_all_optional_may_be_sent_bare(stack: Stack) -> None:
    client = _created(stack, "ana", "/api/v1/clients", {"name": "Acciones Sin Cuerpo", "force_duplicate": True})
    deal = _created(
        stack,
        "ana",
        "/api/v1/deals",
        {"title": "Sin cuerpo", "client_id": client["id"], "amount": {"amount": "1", "currency_code": "USD"}},
    )
    url = f"/api/v1/deals/{deal['id']}"
    # As `curl -X POST` sends it: no body, no Content-Type.
    won = stack.http.post(f"{url}:win", headers=stack.auth("ana"))
    assert won.status_code == 200, won.get_json()
    assert won.get_json()["status"] == "won"
    reopened = stack.http.post(f"{url}:reopen", headers=stack.auth("ana"))
    assert reopened.status_code == 200, reopened.get_json()
    assert reopened.get_json()["status"] == "open"
    # A body that is there is still JSON, and an action that needs one still says so.
    wrong_type = stack.http.post(f"{url}:win", data="x", content_type="text/plain", headers=stack.auth("ana"))
    assert wrong_type.status_code == 415
    lose = stack.http.post(f"{url}:lose", headers=stack.auth("ana"))
    assert lose.status_code == 415 and lose.get_json()["code"] == "unsupported_media_type"
    assert _get(stack, "ana", url).get_json()["status"] == "open"
